fn main() {
    println!("wsgifix");
}
