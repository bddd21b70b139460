//! Convolution building blocks shared by the trainable spaces (`nasnet`, `nb201`): PyTorch's
//! default initialisation, batch norm, "same"-padded convolutions described by a [`ConvSpec`]
//! (so parameters and multiply-adds are counted from the same description that builds them),
//! ReLU–conv–BN units and a linear classifier.
//!
//! * Convolutions have no bias (a BN follows each); conv and linear weights start as PyTorch's
//!   default (kaiming-uniform with `a = √5`, i.e. uniform in ±1/√fan_in), so a network here and
//!   the same network in PyTorch start from the same distribution.
//! * BN is affine (scale 1, shift 0) with running statistics, as in an evaluation network; a
//!   weight-sharing search network asks for the non-affine one (DARTS, `affine=False`).

use tch::nn::{self, init::FanInOut, init::NonLinearity, init::NormalOrUniform};
use tch::Tensor;

/// The spatial size after an op with this stride: `ceil(size / stride)`.
pub fn out_size(size: usize, stride: usize) -> usize {
    size.div_ceil(stride)
}

/// PyTorch's default initialisation of conv and linear weights: kaiming-uniform with `a = √5`,
/// i.e. uniform in `±1/√fan_in`.
pub fn torch_default_init() -> nn::Init {
    nn::Init::Kaiming {
        dist: NormalOrUniform::Uniform,
        fan: FanInOut::FanIn,
        non_linearity: NonLinearity::ExplicitGain(1.0 / 3f64.sqrt()),
    }
}

/// An affine batch norm with running statistics, initialised as PyTorch's (scale 1, shift 0).
pub fn batch_norm(p: &nn::Path, channels: usize) -> nn::BatchNorm {
    batch_norm_affine(p, channels, true)
}

/// A batch norm with running statistics; `affine = false` has no learned scale and shift (a
/// search network's, as DARTS's `affine=False`).
pub fn batch_norm_affine(p: &nn::Path, channels: usize, affine: bool) -> nn::BatchNorm {
    nn::batch_norm2d(
        p,
        channels as i64,
        nn::BatchNormConfig {
            affine,
            ws_init: nn::Init::Const(1.0),
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        },
    )
}

/// A linear layer with bias, initialised as PyTorch's.
pub fn linear(p: &nn::Path, cin: usize, cout: usize) -> nn::Linear {
    nn::linear(
        p,
        cin as i64,
        cout as i64,
        nn::LinearConfig {
            ws_init: torch_default_init(),
            bs_init: None,
            bias: true,
        },
    )
}

/// The shape of one convolution (no bias, "same" padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    /// `[kh, kw]`, both odd.
    pub kernel: [usize; 2],
    pub stride: usize,
    pub dilation: usize,
    pub groups: usize,
}

impl ConvSpec {
    /// A dense k×k convolution.
    pub fn square(cin: usize, cout: usize, k: usize, stride: usize) -> Self {
        ConvSpec {
            cin,
            cout,
            kernel: [k, k],
            stride,
            dilation: 1,
            groups: 1,
        }
    }

    fn padding(&self) -> [i64; 2] {
        self.kernel
            .map(|k| (self.dilation * k.saturating_sub(1) / 2) as i64)
    }

    /// Multiply-accumulates of this convolution on an `h × w` input (one image).
    pub fn mult_adds(&self, h: usize, w: usize) -> u64 {
        let (ho, wo) = (out_size(h, self.stride), out_size(w, self.stride));
        (self.cout * ho * wo * (self.cin / self.groups) * self.kernel[0] * self.kernel[1]) as u64
    }

    /// Parameters of the convolution's weight.
    pub fn parameters(&self) -> u64 {
        (self.cout * (self.cin / self.groups) * self.kernel[0] * self.kernel[1]) as u64
    }

    /// Whether this is a 1 × 1 convolution with a stride: [`Conv`] runs it as a subsample and
    /// a stride-1 convolution.
    fn subsamples(&self) -> bool {
        self.kernel == [1, 1] && self.stride > 1
    }

    pub fn build(&self, p: &nn::Path) -> Conv {
        // (convolution stride, subsample stride)
        let (s, subsample) = if self.subsamples() {
            (1, self.stride as i64)
        } else {
            (self.stride as i64, 1)
        };
        let d = self.dilation as i64;
        let conv = nn::conv(
            p,
            self.cin as i64,
            self.cout as i64,
            self.kernel.map(|k| k as i64),
            nn::ConvConfigND::<[i64; 2]> {
                stride: [s, s],
                padding: self.padding(),
                dilation: [d, d],
                groups: self.groups as i64,
                bias: false,
                ws_init: torch_default_init(),
                ..Default::default()
            },
        );
        Conv { conv, subsample }
    }
}

/// A convolution built from a [`ConvSpec`]. A 1 × 1 convolution with stride s runs as
/// `x[:, :, ::s, ::s]` and a stride-1 convolution: the same sums on the same pixels (a 1 × 1
/// kernel has no padding), so the same output and gradients. Why: on CPUs with AVX2 and without
/// AVX-512, libtorch 2.13's oneDNN computes the weight gradient of a strided 1 × 1 convolution
/// with `jit_avx2_1x1_convolution_bwd_weights_t`, which writes 8 bytes past its buffer
/// (valgrind) and corrupts the heap; docs/libtorch.md has the measurements.
#[derive(Debug)]
pub struct Conv {
    conv: nn::Conv2D,
    /// The stride taken by subsampling the input; 1 = none.
    subsample: i64,
}

impl nn::Module for Conv {
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.subsample == 1 {
            return x.apply(&self.conv);
        }
        let s = self.subsample;
        x.slice(2, 0, None, s)
            .slice(3, 0, None, s)
            .apply(&self.conv)
    }
}

/// ReLU, one or more convolutions in a row, BN.
#[derive(Debug)]
pub struct ReluConvBn {
    convs: Vec<Conv>,
    bn: nn::BatchNorm,
}

impl ReluConvBn {
    /// `specs` must chain (each one's `cout` is the next one's `cin`); the BN is affine.
    pub fn new(p: &nn::Path, specs: &[ConvSpec]) -> Self {
        Self::with_affine(p, specs, true)
    }

    /// [`ReluConvBn::new`] with an affine or a non-affine BN.
    pub fn with_affine(p: &nn::Path, specs: &[ConvSpec], affine: bool) -> Self {
        let convs = specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.build(&(p / format!("conv{i}"))))
            .collect();
        let cout = specs.last().map_or(0, |s| s.cout);
        ReluConvBn {
            convs,
            bn: batch_norm_affine(&(p / "bn"), cout, affine),
        }
    }

    /// A 1×1 ReLU–conv–BN from `cin` to `cout` channels (cell preprocessing, concat squeeze).
    pub fn pointwise(p: &nn::Path, cin: usize, cout: usize) -> Self {
        Self::new(p, &[ConvSpec::square(cin, cout, 1, 1)])
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_relued(&x.relu(), train)
    }

    /// The unit on an input that has been through the ReLU already (a search network's
    /// candidates on one edge share it).
    pub fn forward_relued(&self, x: &Tensor, train: bool) -> Tensor {
        let mut y = x.apply(&self.convs[0]);
        for c in &self.convs[1..] {
            y = y.apply(c);
        }
        y.apply_t(&self.bn, train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// A strided 1 × 1 [`Conv`] gives a strided convolution's output and weight gradient, on even
    /// and odd sizes (`ceil(size / 2)` pixels either way).
    #[test]
    fn a_strided_1x1_conv_is_a_subsample_and_a_stride_1_conv() {
        tch::manual_seed(3);
        for size in [8, 7] {
            let vs = nn::VarStore::new(Device::Cpu);
            let conv = ConvSpec::square(3, 5, 1, 2).build(&vs.root());
            assert_eq!(conv.subsample, 2);
            let x = Tensor::randn([2, 3, size, size], (Kind::Float, Device::Cpu));
            let y = x.apply(&conv);
            let half = out_size(size as usize, 2) as i64;
            assert_eq!(y.size(), [2, 5, half, half]);
            // The forward pass against a strided convolution (its forward kernel is sound).
            let w = conv.conv.ws.detach();
            let strided = x.conv2d(&w, None::<Tensor>, [2, 2], [0, 0], [1, 1], 1);
            assert!(y.allclose(&strided, 1e-5, 1e-6, false));
            // The weight gradient of sum(y · g): Σ over images and output pixels of g · x there.
            let g = Tensor::randn(y.size(), (Kind::Float, Device::Cpu));
            (&y * &g).sum(Kind::Float).backward();
            let picked = x.slice(2, 0, None, 2).slice(3, 0, None, 2);
            let expected = Tensor::einsum("nohw,nihw->oi", &[&g, &picked], None::<i64>);
            let grad = conv.conv.ws.grad().view([5, 3]);
            assert!(grad.allclose(&expected, 1e-4, 1e-5, false));
        }
    }

    #[test]
    fn other_convs_keep_their_stride() {
        let vs = nn::VarStore::new(Device::Cpu);
        for (i, spec) in [ConvSpec::square(3, 5, 3, 2), ConvSpec::square(3, 5, 1, 1)]
            .iter()
            .enumerate()
        {
            assert_eq!(spec.build(&(vs.root() / i)).subsample, 1, "{spec:?}");
        }
    }
}
