//! The member ids the store held when the writer last read them, so that a request for a
//! member the model does not know (most members, on a platform where few have enough
//! history to train on) can tell a real member from an unknown id without a store read.
//!
//! The writer thread fills it whenever it reads the known members (at start, after every
//! catalog or member change it runs, and when ingest names a member it does not know), so
//! a member created through this server is seen at once; an erasure also drops the member
//! before it is answered. It only ever answers "yes" from memory: an id it lacks is looked
//! up in the store, so a member another process has just added is never refused. A member
//! another process erased stays "known" until this server's writer next reads the members;
//! such a member is answered with the non-personal cold-start list, never with anything of
//! theirs.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;

#[derive(Debug, Default)]
pub(crate) struct MemberDirectory {
    ids: ArcSwap<HashSet<String>>,
}

impl MemberDirectory {
    /// Whether the store held `id` when last read.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.load().contains(id)
    }

    /// Drops `id` at once (an erasure answered before the writer re-reads the members).
    pub(crate) fn forget(&self, id: &str) {
        if self.contains(id) {
            self.ids.rcu(|ids| {
                let mut ids = HashSet::clone(ids);
                ids.remove(id);
                ids
            });
        }
    }

    /// Replaces the whole set with one just read from the store.
    pub(crate) fn replace(&self, ids: HashSet<String>) {
        self.ids.store(Arc::new(ids));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_the_last_set_it_was_given() {
        let directory = MemberDirectory::default();
        assert!(!directory.contains("m1"));
        directory.replace(["m1".to_owned(), "m2".to_owned()].into());
        assert!(directory.contains("m1") && directory.contains("m2"));
        directory.forget("m1");
        assert!(
            !directory.contains("m1"),
            "an erased member is forgotten at once"
        );
        assert!(directory.contains("m2"));
        directory.replace(["m3".to_owned()].into());
        assert!(!directory.contains("m2") && directory.contains("m3"));
    }
}
