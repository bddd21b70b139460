//! nao's saved state in the plugins' one state format (`xnas_core::state`, owner `nao`): the
//! bookkeeping, the model's parameters with Adam's moments (named tensors, `xnas_tch::snapshot`)
//! and the head's own state (its factory may live in another library).

use super::*;

/// The owner name of nao's state.
const OWNER: &str = "nao";
/// Format 1 was a hand-rolled `XNASNAO1` envelope around JSON; 2 is the state format.
const VERSION: u32 = 2;

/// A saved nao: the bookkeeping, then the tensors and the head's state as their owners write them.
#[derive(Serialize, Deserialize)]
pub(super) struct Saved {
    vocab: usize,
    len: usize,
    hidden: usize,
    tasks: Vec<String>,
    data: Vec<Obs>,
    seen: Vec<String>,
    draws: u64,
    rounds: u64,
    data_version: u64,
    trained_version: Option<u64>,
}

/// What the state holds: the bookkeeping, the model's named tensors, the head's own blob.
#[derive(Serialize, Deserialize)]
struct Blob {
    saved: Saved,
    tensors: Vec<u8>,
    head: Vec<u8>,
}

impl Nao {
    pub(super) fn saved(&self) -> Saved {
        Saved {
            vocab: self.view.vocab_size(),
            len: self.view.len(),
            hidden: self.params.hidden,
            tasks: self.tasks.clone(),
            data: self.data.clone(),
            seen: self.seen.iter().cloned().collect(),
            draws: self.draws,
            rounds: self.rounds,
            data_version: self.data_version,
            trained_version: self.trained_version,
        }
    }

    pub(super) fn save(&self) -> PluginResult<Vec<u8>> {
        let what = "nao save_state";
        let mut named = self.model.named_parameters("model.");
        named.extend(self.adam.state()?);
        let blob = Blob {
            saved: self.saved(),
            tensors: snapshot::to_bytes(&named, what)?,
            head: self.head.save_state()?,
        };
        xnas_core::state::encode(OWNER, VERSION, &blob)
    }

    pub(super) fn load(&mut self, blob: &[u8]) -> PluginResult<()> {
        let Blob {
            saved,
            tensors,
            head,
        } = xnas_core::state::decode(OWNER, VERSION, blob)?;
        let mine = self.saved();
        if (saved.vocab, saved.len, saved.hidden) != (mine.vocab, mine.len, mine.hidden)
            || saved.tasks != mine.tasks
        {
            return Err(PluginError::data(format!(
                "nao state: saved for {} positions, vocabulary {}, hidden {} and tasks {:?}; this \
                 run has {}, {}, {} and {:?}: resume with the experiment file the run started with",
                saved.len,
                saved.vocab,
                saved.hidden,
                saved.tasks,
                mine.len,
                mine.vocab,
                mine.hidden,
                mine.tasks
            )));
        }
        let what = "nao state";
        let loaded = snapshot::from_bytes(&tensors, self.device(), what, "nao model")?;
        // Check every parameter before changing anything.
        let copies = snapshot::match_saved(
            self.model.named_parameters("model."),
            &loaded,
            what,
            "this model",
            "",
        )?;
        self.adam.load_state(&loaded)?;
        self.head.load_state(&head)?;
        snapshot::restore(copies, what)?;
        self.adam.zero_grad()?;
        self.data = saved.data;
        self.seen = saved.seen.into_iter().collect();
        self.draws = saved.draws;
        self.rounds = saved.rounds;
        self.data_version = saved.data_version;
        self.trained_version = saved.trained_version;
        Ok(())
    }
}
