//! Flat storage of a var store: every variable becomes a view into one contiguous tensor per
//! group (trainable weights; buffers such as batch-norm running statistics), the way apex's
//! flat parameters do it (`param.data = flat[a:b].view_as(param)`, tch's `set_data`). The
//! network's modules hold the same variables, so they compute with the views.

use crate::error::TchContext;
use tch::{nn, Device, Kind, Tensor};
use xnas_core::PluginResult;

/// Variables of one group, as views into `flat`, in name order.
#[derive(Debug)]
pub(crate) struct FlatGroup {
    pub flat: Tensor,
    /// The variables themselves (now views into `flat`).
    pub vars: Vec<Tensor>,
    pub names: Vec<String>,
    pub numels: Vec<i64>,
}

impl FlatGroup {
    fn new(vars: Vec<(String, Tensor)>, kind: Kind, device: Device) -> PluginResult<Self> {
        let what = "supernet: flattening the weights";
        let numels: Vec<i64> = vars.iter().map(|(_, t)| t.numel() as i64).collect();
        let total: i64 = numels.iter().sum();
        let flat = Tensor::f_zeros([total], (kind, device)).context(what)?;
        let mut offset = 0;
        let mut views = Vec::with_capacity(vars.len());
        let mut names = Vec::with_capacity(vars.len());
        for ((name, var), &n) in vars.into_iter().zip(&numels) {
            let mut view = flat
                .f_narrow(0, offset, n)
                .and_then(|v| v.f_view(var.size().as_slice()))
                .context(what)?;
            tch::no_grad(|| view.f_copy_(&var)).context(what)?;
            let mut var = var;
            var.f_set_data(&view).context(what)?;
            views.push(var);
            names.push(name);
            offset += n;
        }
        Ok(FlatGroup {
            flat,
            vars: views,
            names,
            numels,
        })
    }

    pub fn numel(&self) -> i64 {
        self.numels.iter().sum()
    }

    /// `(name, shape)` of every variable, in order: what a saved state must match.
    pub fn layout(&self) -> Vec<(String, Vec<i64>)> {
        self.names
            .iter()
            .zip(&self.vars)
            .map(|(n, v)| (n.clone(), v.size()))
            .collect()
    }

    /// One flat tensor of the gradients `grads` (one per variable; undefined = not reached by
    /// the pass, taken as zero), and whether every variable was reached.
    pub fn flatten(&self, grads: &[Tensor]) -> PluginResult<(Tensor, Vec<bool>)> {
        let what = "supernet: flattening the gradient";
        let kind = self.flat.kind();
        let device = self.flat.device();
        let mut parts = Vec::with_capacity(grads.len());
        let mut reached = Vec::with_capacity(grads.len());
        for (g, &n) in grads.iter().zip(&self.numels) {
            reached.push(g.defined());
            parts.push(if g.defined() {
                g.f_reshape([-1]).context(what)?
            } else {
                Tensor::f_zeros([n], (kind, device)).context(what)?
            });
        }
        let flat = if parts.is_empty() {
            Tensor::f_zeros([0], (kind, device)).context(what)?
        } else {
            Tensor::f_cat(&parts, 0).context(what)?
        };
        Ok((flat, reached))
    }

    /// A flat 0/1 tensor of the engine's kind: 1 over the variables where `keep[i]`.
    pub fn mask(&self, keep: &[bool]) -> PluginResult<Tensor> {
        let what = "supernet: weight mask";
        let parts = self
            .numels
            .iter()
            .zip(keep)
            .map(|(&n, &k)| {
                Tensor::f_full(
                    [n],
                    if k { 1.0 } else { 0.0 },
                    (self.flat.kind(), Device::Cpu),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .context(what)?;
        if parts.is_empty() {
            return Tensor::f_zeros([0], (self.flat.kind(), self.flat.device())).context(what);
        }
        Tensor::f_cat(&parts, 0)
            .and_then(|t| t.f_to_device(self.flat.device()))
            .context(what)
    }
}

/// The var store's variables in two flat groups.
#[derive(Debug)]
pub(crate) struct FlatStore {
    /// Trainable weights (w).
    pub params: FlatGroup,
    /// Everything else: batch-norm running statistics.
    pub buffers: FlatGroup,
}

impl FlatStore {
    /// Flattens every float variable of `vs` (cast to `kind` first).
    pub fn new(vs: &nn::VarStore, kind: Kind, device: Device) -> PluginResult<Self> {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let (params, buffers): (Vec<_>, Vec<_>) =
            vars.into_iter().partition(|(_, t)| t.requires_grad());
        Ok(FlatStore {
            params: FlatGroup::new(params, kind, device)?,
            buffers: FlatGroup::new(buffers, kind, device)?,
        })
    }

    /// Every variable by name (weights, then buffers), for export.
    pub fn named(&self) -> Vec<(String, Tensor)> {
        [&self.params, &self.buffers]
            .into_iter()
            .flat_map(|g| {
                g.names
                    .iter()
                    .cloned()
                    .zip(g.vars.iter().map(Tensor::shallow_clone))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_become_views_of_one_tensor_and_modules_see_changes() {
        let vs = nn::VarStore::new(Device::Cpu);
        let lin = nn::linear(vs.root() / "lin", 3, 2, Default::default());
        let bn = nn::batch_norm1d(vs.root() / "bn", 2, Default::default());
        let x = Tensor::ones([4, 3], (Kind::Float, Device::Cpu));
        let before = x.apply(&lin);
        let store = FlatStore::new(&vs, Kind::Float, Device::Cpu).unwrap();
        assert_eq!(
            store.params.names,
            ["bn.bias", "bn.weight", "lin.bias", "lin.weight"]
        );
        assert_eq!(store.buffers.names, ["bn.running_mean", "bn.running_var"]);
        assert_eq!(store.params.numel(), 2 + 2 + 2 + 6);
        // Same values after flattening; the module now reads the flat tensor.
        assert_eq!(x.apply(&lin), before);
        let mut flat = store.params.flat.shallow_clone();
        tch::no_grad(|| {
            let _ = flat.zero_();
        });
        assert_eq!(x.apply(&lin).abs().sum(Kind::Float).double_value(&[]), 0.0);
        // Training-mode batch norm updates the running statistics in the flat buffer.
        let _ = x.apply(&lin).apply_t(&bn, true);
        assert!(store.buffers.flat.abs().sum(Kind::Float).double_value(&[]) > 0.0);
        // Gradients: an unreached variable is zero and reported.
        let y = (x.apply(&lin) * 2.0).sum(Kind::Float);
        let grads = Tensor::run_backward(&[y], &store.params.vars, false, false);
        let (g, reached) = store.params.flatten(&grads).unwrap();
        assert_eq!(reached, [false, false, true, true]);
        assert_eq!(g.size(), [12]);
        let mask = store.params.mask(&reached).unwrap();
        assert_eq!(mask.sum(Kind::Float).double_value(&[]), 8.0);
    }
}
