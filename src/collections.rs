//! The hash maps and sets the crate uses: std's, hashed with foldhash
//! instead of SipHash. Their keys are names, paths and small tuples read from
//! configs that root already controls, so SipHash's resistance to chosen
//! keys buys nothing here, and it was about 5% of a fleet run's instructions
//! (callgrind). The seed is still random per process, so iteration order is
//! never something output may depend on.

pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
