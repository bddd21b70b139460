//! Image tasks from files: readers for CIFAR-10/100 binary, IDX (MNIST, Fashion-MNIST) and CSV
//! pixel tables; a deterministic train/valid split of the training set; per-channel
//! normalisation. Trainable search spaces (`nasnet`) and similarity plugins read tasks here.
//!
//! INTERFACE (fixed; the readers fill it in): everything is on the CPU; trainers move batches
//! to their device.

use tch::Tensor;

/// Images and labels of one split.
#[derive(Debug)]
pub struct ImageSet {
    /// `[N, C, H, W]` float32, normalised with the task's training mean and std.
    pub images: Tensor,
    /// `[N]` int64 class indices in `0..classes`.
    pub labels: Tensor,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A loaded task: the training split, the validation split held out of the training file, and
/// the test split where the task has one.
#[derive(Debug)]
pub struct TaskData {
    pub name: String,
    pub train: ImageSet,
    pub valid: ImageSet,
    pub test: Option<ImageSet>,
    pub classes: usize,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Per-channel mean and std of the training split's raw pixels in [0, 1], used to normalise.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}
