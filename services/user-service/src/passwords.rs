//! Argon2id password hashing, off the async runtime, on a fixed pool of hashing threads.
//!
//! Each hash needs its memory cost (19 MiB by default) for as long as it runs. Allocating that
//! per hash, on whatever thread ran it, let glibc keep the freed blocks in its per-thread arenas:
//! the service's RSS grew with every new thread that hashed and never came back (~0.9 GB after a
//! few hundred logins, issue #12). Instead, `workers` threads (`PASSWORD_HASH_WORKERS`, default
//! the available parallelism, at most [`MAX_DEFAULT_WORKERS`]) each own one memory block, sized
//! once for the configured cost and reused by every hash they compute: hashing memory is
//! `workers × m_cost`, whatever the load, and requests beyond that wait in a queue.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), byte for byte what
//! `argon2`'s `PasswordHasher` produces; a stored hash is verified with its own parameters. A
//! stored hash whose memory cost exceeds the workers' blocks (made under a higher cost) is
//! verified with a block of its own size, allocated for that one verification.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The default number of hashing workers is the available parallelism, capped here: more
/// threads than cores only adds memory (one block each), not throughput.
pub const MAX_DEFAULT_WORKERS: usize = 8;
/// Hash requests that may wait for a worker before callers wait to enqueue (each one holds only
/// a password and a reply channel; the request's own task waits either way).
const QUEUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing worker failed")]
    Worker,
    #[error("password hashing is shutting down")]
    Closed,
}

impl From<argon2::Error> for HashError {
    fn from(e: argon2::Error) -> HashError {
        HashError::Hash(e.into())
    }
}

/// The default number of workers on this machine.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(MAX_DEFAULT_WORKERS)
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password with the configured cost: verified against when an email is
    /// unknown, so a login takes as long whether or not the account exists.
    dummy: Arc<str>,
    jobs: mpsc::Sender<Job>,
}

impl Hasher {
    /// A pool of `workers` hashing threads (at least one). They exit when the last clone of the
    /// `Hasher` is dropped and the queue is drained.
    pub async fn new(params: Params, workers: usize) -> Result<Hasher, HashError> {
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let block_count = params.block_count();
        for n in 0..workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || worker(&queue, block_count))
                .map_err(|_| HashError::Worker)?;
        }
        let mut hasher = Hasher {
            params,
            dummy: Arc::from(""),
            jobs,
        };
        let random: String = {
            use rand::Rng;
            rand::thread_rng()
                .sample_iter(rand::distributions::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect()
        };
        hasher.dummy = Arc::from(hasher.hash(random).await?);
        Ok(hasher)
    }

    /// Runs `f` on a worker, with its memory block.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |blocks| {
            let _ = tx.send(f(blocks));
        });
        self.jobs.send(job).await.map_err(|_| HashError::Closed)?;
        // A dropped sender: the job panicked (the worker survives it, see `worker`).
        rx.await.map_err(|_| HashError::Worker)?
    }

    /// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let params = self.params.clone();
        self.run(move |blocks| {
            let salt = SaltString::generate(&mut OsRng);
            hash_with_salt(&params, password.as_bytes(), &salt, blocks)
        })
        .await
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) it does the same work
    /// against the dummy hash and answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.to_string());
        let matches = self
            .run(move |blocks| verify_with(password.as_bytes(), &hash, blocks))
            .await?;
        Ok(known && matches)
    }
}

/// A worker: takes jobs until every sender is gone. Its block is allocated at the first job and
/// kept; a job that panics is contained (its caller gets [`HashError::Worker`]).
fn worker(queue: &Mutex<mpsc::Receiver<Job>>, block_count: usize) {
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let job = {
            let Ok(mut queue) = queue.lock() else { return };
            match queue.blocking_recv() {
                Some(job) => job,
                None => return,
            }
        };
        if blocks.len() < block_count {
            blocks = vec![Block::default(); block_count];
        }
        let run = std::panic::AssertUnwindSafe(|| job(&mut blocks));
        if std::panic::catch_unwind(run).is_err() {
            tracing::error!("a password hashing job panicked");
        }
    }
}

/// The block `blocks`, or a larger one for this computation alone when `params` needs more.
fn with_blocks<T>(params: &Params, blocks: &mut [Block], f: impl FnOnce(&mut [Block]) -> T) -> T {
    let needed = params.block_count();
    if needed <= blocks.len() {
        f(&mut blocks[..needed])
    } else {
        f(&mut vec![Block::default(); needed])
    }
}

/// The PHC string of `password` with `salt` under `params` (Argon2id, v=19): what
/// `Argon2::hash_password` gives, computed in `blocks`.
fn hash_with_salt(
    params: &Params,
    password: &[u8],
    salt: &SaltString,
    blocks: &mut [Block],
) -> Result<String, HashError> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = salt.as_salt();
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(HashError::Hash)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = with_blocks(params, blocks, |blocks| {
        Output::init_with(len, |out| {
            argon2
                .hash_password_into_with_memory(password, salt_bytes, out, blocks)
                .map_err(Into::into)
        })
    })
    .map_err(HashError::Hash)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(HashError::Hash)?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `hash`, computed with the hash's own algorithm,
/// version and parameters in `blocks`: what `PasswordVerifier::verify_password` answers.
fn verify_with(password: &[u8], hash: &str, blocks: &mut [Block]) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(hash).map_err(HashError::Hash)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(HashError::Hash)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v)?,
        None => Version::default(),
    };
    // Output length from the stored hash (`Params::try_from` takes it from there).
    let params = Params::try_from(&parsed).map_err(HashError::Hash)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(HashError::Hash)?;
    let computed = with_blocks(&params, blocks, |blocks| {
        Output::init_with(expected.len(), |out| {
            argon2
                .hash_password_into_with_memory(password, salt_bytes, out, blocks)
                .map_err(Into::into)
        })
    })
    .map_err(HashError::Hash)?;
    // `Output`'s equality is constant-time.
    Ok(&computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn cheap() -> Params {
        Params::new(256, 1, 1, None).unwrap()
    }

    #[test]
    fn same_phc_string_as_the_argon2_crate() {
        let salt = SaltString::generate(&mut OsRng);
        for params in [cheap(), Params::new(512, 2, 2, Some(24)).unwrap()] {
            let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
                .hash_password(b"correct horse", &salt)
                .unwrap()
                .to_string();
            let mut blocks = vec![Block::default(); params.block_count()];
            let new = hash_with_salt(&params, b"correct horse", &salt, &mut blocks).unwrap();
            assert_eq!(new, old);
        }
    }

    #[test]
    fn verifies_what_the_argon2_crate_made_and_the_other_way_round() {
        let salt = SaltString::generate(&mut OsRng);
        // Made by the code before the pool: the default cost, as stored in production.
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        // A worker's block sized for a lower cost: the stored hash's own cost is used.
        let mut small = vec![Block::default(); cheap().block_count()];
        assert!(verify_with(b"correct horse", &old, &mut small).unwrap());
        assert!(!verify_with(b"wrong horse", &old, &mut small).unwrap());

        let mut blocks = vec![Block::default(); cheap().block_count()];
        let new = hash_with_salt(&cheap(), b"pw-1", &salt, &mut blocks).unwrap();
        let parsed = PasswordHash::new(&new).unwrap();
        assert!(Argon2::default().verify_password(b"pw-1", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pw-2", &parsed).is_err());
        // Other algorithms and a missing hash part, as `verify_password` treats them.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x10, cheap())
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_with(b"pw", &argon2i, &mut blocks).unwrap());
        assert!(verify_with(b"pw", "$argon2id$v=19$m=256,t=1,p=1", &mut blocks).is_ok_and(|m| !m));
        assert!(verify_with(b"pw", "not a phc string", &mut blocks).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_hashes_on_two_workers() {
        let hasher = Hasher::new(cheap(), 2).await.unwrap();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let password = format!("password-{i}");
                    let hash = hasher.hash(password.clone()).await.unwrap();
                    let right = hasher.verify(password, Some(hash.clone())).await.unwrap();
                    let wrong = hasher.verify("nope".into(), Some(hash.clone())).await;
                    (hash, right, wrong.unwrap())
                })
            })
            .collect();
        let mut hashes = std::collections::HashSet::new();
        for task in tasks {
            let (hash, right, wrong) = task.await.unwrap();
            assert!(right && !wrong);
            assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{hash}");
            assert!(hashes.insert(hash), "fresh salt each time");
        }
        // Unknown account: the dummy's work, and false even for the dummy's own password.
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
        // Hashes made before the pool (the crate's own path) verify.
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap())
            .hash_password(b"legacy", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(hasher.verify("legacy".into(), Some(old)).await.unwrap());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_bad_stored_hash_is_an_error_and_the_pool_goes_on() {
        let hasher = Hasher::new(cheap(), 1).await.unwrap();
        assert!(matches!(
            hasher.verify("pw".into(), Some("garbage".into())).await,
            Err(HashError::Hash(_))
        ));
        let hash = hasher.hash("pw".into()).await.unwrap();
        assert!(hasher.verify("pw".into(), Some(hash)).await.unwrap());
    }
}
