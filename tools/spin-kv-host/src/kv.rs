//! Spin's key-value interface (`fermyon:spin/key-value@2.0.0`) over an
//! in-process store that outlives the per-request instances.
//!
//! Each label given with `--kv-store` is one store: a map shared by every
//! instance, so what one request sets the next one reads. Opening any other
//! label fails with `access-denied`, as Spin answers for a store the
//! component's manifest does not list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

/// Host bindings generated from `wit/` (the world `spin-kv-host:host/host`).
mod bindings {
    #![allow(missing_docs, unreachable_pub)]
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-kv-host:host/host",
        imports: { default: trappable },
        with: { "fermyon:spin/key-value.store": crate::kv::OpenStore },
    });
}

use bindings::fermyon::spin::key_value::{self, Error};

/// One store's contents: keys to values.
type Map = HashMap<String, Vec<u8>>;

/// The stores the host serves, by label; shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct KvStores {
    stores: HashMap<String, Arc<Mutex<Map>>>,
}

impl KvStores {
    /// Empty stores, one per label.
    pub(crate) fn new<I: IntoIterator<Item = String>>(labels: I) -> Self {
        let stores = labels.into_iter().map(|l| (l, Arc::default())).collect();
        Self { stores }
    }

    /// The store named `label`, if the host serves it.
    fn get(&self, label: &str) -> Option<Arc<Mutex<Map>>> {
        self.stores.get(label).cloned()
    }
}

/// A store opened by the guest: the `store` resource's host side.
///
/// `pub` because the generated bindings re-export it.
#[derive(Debug)]
#[allow(unreachable_pub)]
pub struct OpenStore {
    map: Arc<Mutex<Map>>,
}

impl OpenStore {
    /// Locks the map; a panic in another request must not wedge the store.
    fn lock(&self) -> MutexGuard<'_, Map> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the key-value host functions need from a request's state.
pub(crate) struct KvView<'a> {
    /// The stores shared across requests.
    pub(crate) stores: &'a KvStores,
    /// The request's resource table, holding its open stores.
    pub(crate) table: &'a mut ResourceTable,
}

/// Implemented by the `T` of `Store<T>` to expose [`KvView`].
pub(crate) trait KvHostView: Send {
    /// A view of the key-value state.
    fn kv(&mut self) -> KvView<'_>;
}

/// [`HasData`] marker: host functions see a [`KvView`].
struct Kv;

impl HasData for Kv {
    type Data<'a> = KvView<'a>;
}

/// Adds `fermyon:spin/key-value@2.0.0` to `linker`.
pub(crate) fn add_to_linker<T: KvHostView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    key_value::add_to_linker::<T, Kv>(linker, |t| t.kv())
}

/// Host result: the outer `Err` traps (a bad handle), the inner is the WIT error.
type KvResult<T> = wasmtime::Result<Result<T, Error>>;

impl KvView<'_> {
    /// The open store behind a guest handle.
    fn open_store(&self, store: &Resource<OpenStore>) -> wasmtime::Result<&OpenStore> {
        Ok(self.table.get(store)?)
    }
}

impl key_value::Host for KvView<'_> {}

impl key_value::HostStore for KvView<'_> {
    fn open(&mut self, label: String) -> KvResult<Resource<OpenStore>> {
        let Some(map) = self.stores.get(&label) else {
            return Ok(Err(Error::AccessDenied));
        };
        Ok(Ok(self.table.push(OpenStore { map })?))
    }

    fn get(&mut self, store: Resource<OpenStore>, key: String) -> KvResult<Option<Vec<u8>>> {
        Ok(Ok(self.open_store(&store)?.lock().get(&key).cloned()))
    }

    fn set(&mut self, store: Resource<OpenStore>, key: String, value: Vec<u8>) -> KvResult<()> {
        self.open_store(&store)?.lock().insert(key, value);
        Ok(Ok(()))
    }

    fn delete(&mut self, store: Resource<OpenStore>, key: String) -> KvResult<()> {
        self.open_store(&store)?.lock().remove(&key);
        Ok(Ok(()))
    }

    fn exists(&mut self, store: Resource<OpenStore>, key: String) -> KvResult<bool> {
        Ok(Ok(self.open_store(&store)?.lock().contains_key(&key)))
    }

    fn get_keys(&mut self, store: Resource<OpenStore>) -> KvResult<Vec<String>> {
        Ok(Ok(self
            .open_store(&store)?
            .lock()
            .keys()
            .cloned()
            .collect()))
    }

    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::key_value::HostStore;
    use super::*;

    /// Runs `f` against a fresh request (its own resource table) over `stores`.
    fn request<R>(stores: &KvStores, f: impl FnOnce(&mut KvView<'_>) -> R) -> R {
        let mut table = ResourceTable::new();
        f(&mut KvView {
            stores,
            table: &mut table,
        })
    }

    fn open(kv: &mut KvView<'_>, label: &str) -> Resource<OpenStore> {
        kv.open(label.into())
            .expect("no trap")
            .expect("store opens")
    }

    #[test]
    fn unknown_label_is_access_denied() {
        let stores = KvStores::new(["default".to_string()]);
        request(&stores, |kv| {
            let got = kv.open("other".into()).expect("no trap");
            assert!(matches!(got, Err(Error::AccessDenied)));
        });
    }

    #[test]
    fn values_outlive_the_request_that_set_them() {
        let stores = KvStores::new(["default".to_string()]);
        request(&stores, |kv| {
            let s = open(kv, "default");
            let set = kv.set(Resource::new_borrow(s.rep()), "k".into(), b"v".to_vec());
            assert!(matches!(set, Ok(Ok(()))));
            kv.drop(s).expect("drops");
        });
        request(&stores, |kv| {
            let s = open(kv, "default");
            let b = || Resource::<OpenStore>::new_borrow(s.rep());
            assert_eq!(
                kv.get(b(), "k".into()).expect("no trap").ok(),
                Some(Some(b"v".to_vec()))
            );
            assert_eq!(
                kv.exists(b(), "k".into()).expect("no trap").ok(),
                Some(true)
            );
            assert_eq!(
                kv.get_keys(b()).expect("no trap").ok(),
                Some(vec!["k".to_string()])
            );
            assert!(matches!(kv.delete(b(), "k".into()), Ok(Ok(()))));
            assert_eq!(kv.get(b(), "k".into()).expect("no trap").ok(), Some(None));
        });
    }

    #[test]
    fn labels_are_separate_stores() {
        let stores = KvStores::new(["a".to_string(), "b".to_string()]);
        request(&stores, |kv| {
            let a = open(kv, "a");
            let b = open(kv, "b");
            let set = kv.set(a, "k".into(), b"1".to_vec());
            assert!(matches!(set, Ok(Ok(()))));
            assert_eq!(kv.exists(b, "k".into()).expect("no trap").ok(), Some(false));
        });
    }
}
