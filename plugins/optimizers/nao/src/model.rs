//! NAO's encoder and attention decoder (renqianluo/NAO_pytorch NAO_V1/encoder.py, decoder.py) on tch. The predictor is not here:
//! it is a head from the head factory, fed with the encoder's pooled code.
//!
//! Shapes: `N` architectures, `L` tokens per architecture (one per search-space position),
//! `Le = L / fold` encoder steps, `H` hidden, `V` vocabulary (SOS = EOS = 0).

use xnas_core::{PluginError, PluginResult, SplitMix64};
use xnas_tch::tch::{nn, Device, Kind, Reduction, TchError, Tensor};
use xnas_tch::{TchContext, TokenView};

/// Sizes and rates of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub hidden: usize,
    pub emb: usize,
    pub fold: usize,
    pub encoder_dropout: f64,
    pub decoder_dropout: f64,
    pub init_range: f64,
}

/// The encoder's output for a batch.
pub struct Encoded {
    /// `[N, Le, H]`, each step L2-normalised: the attention memory and what gradient ascent moves.
    pub out: Tensor,
    /// `[N, H]`: `normalise(mean_t out)`, the code the predictor head reads and the decoder
    /// starts from.
    pub emb: Tensor,
}

/// Encoder + decoder parameters in one `VarStore` (names are the `VarStore` keys).
pub struct Model {
    config: ModelConfig,
    device: Device,
    vocab: i64,
    len: i64,
    pub vs: nn::VarStore,
    enc_emb: Tensor,
    enc_lstm: [Tensor; 4],
    dec_emb: Tensor,
    dec_lstm: [Tensor; 4],
    attn_in: Tensor,
    attn_out: Tensor,
    out_w: Tensor,
    out_b: Tensor,
    /// `[L, V]`: 0 where a token is allowed at a position, −∞ elsewhere.
    masks: Tensor,
}

/// L2-normalises along the last dimension (F.normalize: divides by max(‖x‖, 1e-12)).
pub fn normalise(x: &Tensor) -> Result<Tensor, TchError> {
    let norm = x
        .f_square()?
        .f_sum_dim_intlist(-1, true, None::<Kind>)?
        .f_sqrt()?
        .f_clamp_min(1e-12)?;
    x.f_div(&norm)
}

/// `normalise(mean over steps)`: `[N, Le, H]` → `[N, H]`.
pub fn pool(out: &Tensor) -> Result<Tensor, TchError> {
    normalise(&out.f_mean_dim(1, false, None::<Kind>)?)
}

impl Model {
    /// Parameters start uniform in ±`init_range`, drawn from `SplitMix64(seed)`: they depend on
    /// the seed alone (as in NAO_pytorch, which initialises everything uniformly).
    pub fn new(
        config: ModelConfig,
        view: &TokenView,
        device: Device,
        seed: u64,
    ) -> PluginResult<Self> {
        xnas_tch::init();
        let (h, e, f) = (config.hidden as i64, config.emb as i64, config.fold as i64);
        let (v, l) = (view.vocab_size() as i64, view.len() as i64);
        if l == 0 {
            return Err(PluginError::invalid_params(
                "nao: the search space has no positions to encode",
            ));
        }
        if l % f != 0 {
            return Err(PluginError::invalid_params(format!(
                "`fold` is {f}: it must divide the number of positions of the space ({l})"
            )));
        }
        let vs = nn::VarStore::new(device);
        let mut rng = SplitMix64::new(seed);
        let root = vs.root();
        let r = config.init_range;
        let mut var = |name: &str, dims: &[i64]| -> PluginResult<Tensor> {
            let n: i64 = dims.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|_| ((rng.next_f64() * 2.0 - 1.0) * r) as f32)
                .collect();
            // tch paths take one component at a time: "a.b.c" is root / "a" / "b", var "c".
            let (dir, leaf) = name.rsplit_once('.').unwrap_or(("", name));
            let path = dir
                .split('.')
                .filter(|c| !c.is_empty())
                .fold(root.clone(), |p, c| p.sub(c));
            Tensor::f_from_slice(&values)
                .and_then(|t| t.f_reshape(dims))
                .and_then(|t| path.f_var_copy(leaf, &t))
                .context("nao: creating parameters")
        };
        let lstm = |var: &mut dyn FnMut(&str, &[i64]) -> PluginResult<Tensor>,
                    prefix: &str,
                    input: i64|
         -> PluginResult<[Tensor; 4]> {
            Ok([
                var(&format!("{prefix}.w_ih"), &[4 * h, input])?,
                var(&format!("{prefix}.w_hh"), &[4 * h, h])?,
                var(&format!("{prefix}.b_ih"), &[4 * h])?,
                var(&format!("{prefix}.b_hh"), &[4 * h])?,
            ])
        };
        let enc_emb = var("encoder.embedding", &[v, e])?;
        let enc_lstm = lstm(&mut var, "encoder.lstm", f * e)?;
        let dec_emb = var("decoder.embedding", &[v, h])?;
        let dec_lstm = lstm(&mut var, "decoder.lstm", h)?;
        let attn_in = var("decoder.attention.w_in", &[h, h])?;
        let attn_out = var("decoder.attention.w_out", &[h, 2 * h])?;
        let out_w = var("decoder.vocab.weight", &[v, h])?;
        let out_b = var("decoder.vocab.bias", &[v])?;
        let masks = Tensor::f_from_slice(&view.additive_masks())
            .and_then(|t| t.f_reshape([l, v]))
            .and_then(|t| t.f_to_device(device))
            .context("nao: decoding masks")?;
        Ok(Model {
            config,
            device,
            vocab: v,
            len: l,
            vs,
            enc_emb,
            enc_lstm,
            dec_emb,
            dec_lstm,
            attn_in,
            attn_out,
            out_w,
            out_b,
            masks,
        })
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// A `[N, L]` token tensor on the model's device.
    pub fn tokens(&self, rows: &[Vec<i64>]) -> PluginResult<Tensor> {
        let flat: Vec<i64> = rows.iter().flatten().copied().collect();
        Tensor::f_from_slice(&flat)
            .and_then(|t| t.f_reshape([rows.len() as i64, self.len]))
            .and_then(|t| t.f_to_device(self.device))
            .context("nao: token batch")
    }

    /// Encodes `[N, L]` tokens (NAO_V1/encoder.py); dropout only when `train`.
    pub fn encode(&self, tokens: &Tensor, train: bool) -> PluginResult<Encoded> {
        let run = || -> Result<Encoded, TchError> {
            let n = tokens.size()[0];
            let (h, f) = (self.config.hidden as i64, self.config.fold as i64);
            let x = embed(&self.enc_emb, tokens, self.config.encoder_dropout, train)?;
            // Folding: `fold` consecutive token embeddings make one encoder step.
            let x = x.f_reshape([n, self.len / f, f * self.config.emb as i64])?;
            let zeros = Tensor::f_zeros([1, n, h], (Kind::Float, self.device))?;
            let out = lstm(&x, &zeros, &self.enc_lstm, train)?;
            let out = normalise(&out)?;
            let emb = pool(&out)?;
            Ok(Encoded { out, emb })
        };
        run().context("nao encoder")
    }

    /// Attention and vocabulary projection of decoder outputs `o` (`[N, T, H]`) over `memory`
    /// (`[N, Le, H]`); returns logits `[N, T, V]` (NAO_V1/decoder.py).
    fn attend(&self, o: &Tensor, memory: &Tensor) -> Result<Tensor, TchError> {
        let q = o.f_linear(&self.attn_in, None::<&Tensor>)?;
        let a = q
            .f_bmm(&memory.f_transpose(1, 2)?)?
            .f_softmax(-1, None::<Kind>)?;
        let ctx = a.f_bmm(memory)?;
        let u = Tensor::f_cat(&[&ctx, o], -1)?
            .f_linear(&self.attn_out, None::<&Tensor>)?
            .f_tanh()?;
        u.f_linear(&self.out_w, Some(&self.out_b))
    }

    /// Teacher-forced decoding: log-probabilities `[N, L, V]` of each next token, the decoder fed
    /// `[SOS] ++ target[..L-1]` and started from `(emb, emb)`.
    pub fn decode_teacher(
        &self,
        enc: &Encoded,
        decoder_input: &Tensor,
        train: bool,
    ) -> PluginResult<Tensor> {
        let run = || -> Result<Tensor, TchError> {
            let y = embed(
                &self.dec_emb,
                decoder_input,
                self.config.decoder_dropout,
                train,
            )?;
            let o = lstm(&y, &enc.emb.f_unsqueeze(0)?, &self.dec_lstm, train)?;
            self.attend(&o, &enc.out)?.f_log_softmax(-1, None::<Kind>)
        };
        run().context("nao decoder")
    }

    /// Mean token NLL of `target` (`[N, L]`) under teacher forcing: the reconstruction loss.
    pub fn reconstruction_loss(
        &self,
        enc: &Encoded,
        decoder_input: &Tensor,
        target: &Tensor,
        train: bool,
    ) -> PluginResult<Tensor> {
        let logp = self.decode_teacher(enc, decoder_input, train)?;
        logp.f_reshape([-1, self.vocab])
            .and_then(|lp| {
                lp.f_nll_loss(
                    &target.f_reshape([-1])?,
                    None::<&Tensor>,
                    Reduction::Mean,
                    -100,
                )
            })
            .context("nao reconstruction loss")
    }

    /// Greedy decoding with the token view's masks (NAO_V1/decoder.py at inference): every position gets one of
    /// its own choices, so the result always decodes to a genome of the space's shape.
    pub fn decode_greedy(&self, memory: &Tensor, emb: &Tensor) -> PluginResult<Vec<Vec<i64>>> {
        let run = || -> Result<Vec<Vec<i64>>, TchError> {
            let n = emb.size()[0];
            let (mut h, mut c) = (emb.shallow_clone(), emb.shallow_clone());
            let mut input = Tensor::f_zeros([n], (Kind::Int64, self.device))?; // SOS
            let mut steps = Vec::with_capacity(self.len as usize);
            for t in 0..self.len {
                let x = Tensor::f_embedding(&self.dec_emb, &input, -1, false, false)?;
                let (h2, c2) = x.f_lstm_cell(
                    &[&h, &c],
                    &self.dec_lstm[0],
                    &self.dec_lstm[1],
                    Some(&self.dec_lstm[2]),
                    Some(&self.dec_lstm[3]),
                )?;
                let logits = self
                    .attend(&h2.f_unsqueeze(1)?, memory)?
                    .f_squeeze_dim(1)?
                    .f_add(&self.masks.f_select(0, t)?)?;
                input = logits.f_argmax(-1, false)?;
                steps.push(input.shallow_clone());
                (h, c) = (h2, c2);
            }
            let all = Tensor::f_stack(&steps, 1)?.f_to_device(Device::Cpu)?;
            let flat = Vec::<i64>::try_from(&all.f_reshape([-1])?)?;
            Ok(flat
                .chunks(self.len as usize)
                .map(<[i64]>::to_vec)
                .collect())
        };
        tch_no_grad(run).context("nao greedy decoding")
    }

    /// Parameters named `{prefix}{variable}`, sorted (for state files).
    pub fn named_parameters(&self, prefix: &str) -> Vec<(String, Tensor)> {
        xnas_tch::snapshot::named_variables(&self.vs, prefix)
    }

    /// Scales the parameters' gradients so their global L2 norm is at most `max_norm`
    /// (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
    pub fn clip_gradients(&self, max_norm: f64) -> PluginResult<f64> {
        let grads: Vec<Tensor> = self
            .named_parameters("")
            .into_iter()
            .map(|(_, p)| p.grad())
            .filter(Tensor::defined)
            .collect();
        let mut total = 0.0;
        for g in &grads {
            total += g
                .f_square()
                .and_then(|s| s.f_sum(Kind::Double))
                .and_then(|s| s.f_double_value(&[]))
                .context("nao: gradient norm")?;
        }
        let norm = total.sqrt();
        let scale = max_norm / (norm + 1e-6);
        if scale < 1.0 {
            for mut g in grads {
                let _ = tch_no_grad(|| g.f_mul_scalar_(scale)).context("nao: clipping")?;
            }
        }
        Ok(norm)
    }
}

fn tch_no_grad<T>(f: impl FnOnce() -> T) -> T {
    xnas_tch::tch::no_grad(f)
}

/// Embeds `tokens` in `table`, with dropout `p` when training.
fn embed(table: &Tensor, tokens: &Tensor, p: f64, train: bool) -> Result<Tensor, TchError> {
    let x = Tensor::f_embedding(table, tokens, -1, false, false)?;
    if train && p > 0.0 {
        x.f_dropout(p, true)
    } else {
        Ok(x)
    }
}

/// A one-layer, batch-first LSTM over `x` (`[N, T, in]`) started with hidden and cell state
/// `state` (`[1, N, H]`); its outputs `[N, T, H]`. `w` is `[w_ih, w_hh, b_ih, b_hh]`.
fn lstm(x: &Tensor, state: &Tensor, w: &[Tensor; 4], train: bool) -> Result<Tensor, TchError> {
    let (out, _, _) = x.f_lstm(
        &[state, state],
        &[&w[0], &w[1], &w[2], &w[3]],
        true,
        1,
        0.0,
        train,
        false,
        true,
    )?;
    Ok(out)
}
