//! The controller's part of a saved state: its tensors and each head's own state.

use super::*;

impl Policy {
    /// Parameters and Adam state by name (for saving).
    pub fn named_tensors(&self) -> PluginResult<Vec<(String, Tensor)>> {
        let mut named = snapshot::named_variables(&self.vs, "param.");
        named.extend(self.adam.state()?);
        Ok(named)
    }

    /// Saves parameters and Adam state (CPU tensors, so a state moves between devices).
    pub fn save_tensors(&self) -> PluginResult<Vec<u8>> {
        let what = "rl-controller: saving state";
        snapshot::to_bytes(&self.named_tensors()?, what)
    }

    /// Each head's saved state, in head order.
    pub fn save_heads(&self) -> PluginResult<Vec<(String, Vec<u8>)>> {
        self.heads
            .iter()
            .map(|h| Ok((h.name.clone(), h.head.save_state()?)))
            .collect()
    }

    /// Restores what `save_tensors` and `save_heads` wrote. Everything of the controller is
    /// checked before anything is changed.
    pub fn load(&mut self, tensors: &[u8], heads: &[(String, Vec<u8>)]) -> PluginResult<()> {
        let what = "rl-controller state";
        let loaded = snapshot::from_bytes(tensors, self.device, what, "controller")?;
        let copies = snapshot::match_saved(
            snapshot::named_variables(&self.vs, "param."),
            &loaded,
            what,
            "this controller",
            " (saved with another `hidden` or another search space?)",
        )?;
        if heads.len() != self.heads.len()
            || heads
                .iter()
                .zip(&self.heads)
                .any(|((n, _), h)| *n != h.name)
        {
            return Err(PluginError::data(format!(
                "{what}: saved heads {:?}, this controller has {:?}",
                heads.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
                self.head_names()
            )));
        }
        self.adam
            .load_state(&loaded)
            .map_err(|e| PluginError::data(format!("{what}: {}", e.message())))?;
        snapshot::restore(copies, what)?;
        self.adam.zero_grad()?;
        for (h, (_, bytes)) in self.heads.iter_mut().zip(heads) {
            h.head.load_state(bytes)?;
        }
        Ok(())
    }
}
