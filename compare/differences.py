"""The framework-differences lesson: what each difference is and how to fix it.

The numbers come from executed checks (`compare.checks`, run by
`compare.check_worker` on each Keras backend); this module holds only the
words around them, and imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Difference:
    key: str  # the function in compare.checks that measures it
    title: str
    explanation: str
    fix: str  # code that makes the two frameworks agree


DIFFERENCES = [
    Difference(
        "batch_norm_defaults",
        "BatchNorm momentum convention and epsilon",
        "Keras' `momentum` is the weight of the *old* running statistic (default 0.99), torch's the "
        "weight of the *new* batch statistic (default 0.1): the same word, opposite meanings, and "
        "different defaults. Keras' epsilon defaults to 1e-3, torch's to 1e-5, which matters for "
        "channels of small variance. torch also updates running_var with the unbiased batch "
        "variance (n/(n-1)), Keras with the biased one (see the training parity table).",
        "keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)  # ≡ nn.BatchNorm2d(C, momentum=0.1, eps=1e-5)",
    ),
    Difference(
        "parameters_vs_buffers",
        "Parameters versus buffers",
        "Keras' `count_params()` counts every weight, trainable or not, so it includes BatchNorm's "
        "moving mean and variance. torch keeps those as buffers, outside `parameters()`, together "
        "with an integer `num_batches_tracked` per BatchNorm that Keras does not have.",
        "sum(p.numel() for p in m.parameters()) + sum(b.numel() for b in m.buffers() if b.is_floating_point())",
    ),
    Difference(
        "stride2_padding",
        'Stride-2 `padding="same"` versus `padding=1`',
        'At stride 2 on an even input, `padding="same"` needs one extra row and column and puts '
        "them at the bottom and right only (TensorFlow's convention); torch's `padding=1` pads all "
        "four sides. With identical weights the outputs are shifted by a pixel.",
        'x = keras.layers.ZeroPadding2D(1)(x); keras.layers.Conv2D(f, 3, strides=2, padding="valid")(x)',
    ),
    Difference(
        "channels_last",
        "Channels-last versus channels-first",
        "Keras images are (B, H, W, C), torch's (B, C, H, W); conv kernels are HWIO and OIHW. The "
        "values agree after a transpose, but anything that flattens a feature map (a Dense after a "
        "conv) sees the numbers in a different order, so ported Dense rows must be permuted.",
        "torch_x = keras_x.transpose(0, 3, 1, 2); torch_w = keras_kernel.transpose(3, 2, 0, 1)",
    ),
    Difference(
        "lstm_bias_and_gates",
        "LSTM: one bias versus two, gate order, weight layout",
        "torch's LSTM keeps `bias_ih` and `bias_hh`, which are only ever added: 4×units more "
        "parameters for the same function. Both order the gates input, forget, cell, output. Keras' "
        "kernel is (inputs, 4·units), torch's weight_ih its transpose. Trained, each torch bias gets "
        "the full gradient, so their sum moves twice as far per step as Keras' one bias (see the "
        "LSTM bias step in the parity table).",
        "keras_bias = bias_ih + bias_hh; keras_kernel = weight_ih.T; keras_recurrent = weight_hh.T",
    ),
    Difference(
        "dense_layout_and_init",
        "Dense/Linear layout and default initializers",
        "Keras' Dense kernel is (in, out) and starts glorot_uniform with zero bias; torch's Linear "
        "weight is (out, in) and starts kaiming_uniform(a=√5) (a smaller spread) with a uniform bias. "
        "Default-initialized twins therefore start from different losses.",
        "nn.init.xavier_uniform_(linear.weight); nn.init.zeros_(linear.bias)  # Keras' defaults in torch",
    ),
    Difference(
        "gelu_approximation",
        "GELU: tanh approximation versus exact",
        "`keras.ops.gelu(x)` defaults to the tanh approximation; `keras.activations.gelu`, torch's "
        "`F.gelu` and `nn.GELU` default to the exact erf form.",
        "keras.ops.gelu(x, approximate=False)  # ≡ torch.nn.functional.gelu(x)",
    ),
    Difference(
        "layer_norm_epsilon",
        "LayerNorm epsilon",
        "Keras' LayerNormalization adds 1e-3 to the variance, torch's LayerNorm 1e-5: small "
        "activations are normalized differently.",
        "keras.layers.LayerNormalization(epsilon=1e-5)  # ≡ nn.LayerNorm(d, eps=1e-5)",
    ),
    Difference(
        "adam_epsilon",
        "Adam epsilon",
        "Adam divides by √v + ε. Keras' default ε is 1e-7, torch's 1e-8: for gradients near ε the "
        "first updates differ by up to a factor of ten.",
        "keras.optimizers.Adam(learning_rate, epsilon=1e-8)  # ≡ torch.optim.Adam(params, lr, eps=1e-8)",
    ),
    Difference(
        "compile_and_precision_defaults",
        "Compilation and float32 matmul precision defaults",
        'Keras\' `compile(jit_compile="auto")` compiles `fit` with XLA on JAX, and on TensorFlow only '
        "when a GPU is present (Keras turns XLA off on CPU-only machines); on the torch backend it runs "
        "eagerly. Plain torch is eager unless you call `torch.compile`. On "
        "Ampere and newer GPUs TensorFlow and JAX use TF32 for float32 matmuls by default, torch "
        "does not: set one precision everywhere before comparing.",
        "torch.backends.cuda.matmul.allow_tf32 = False; jax.config.update('jax_default_matmul_precision', "
        "'highest'); tf.config.experimental.enable_tensor_float_32_execution(False)",
    ),
    Difference(
        "scheduler_stepped_per_epoch",
        "Learning-rate schedules: read every step in Keras, stepped by hand in torch",
        "A Keras `LearningRateSchedule` is a function of the optimizer's step count, read at every "
        "update. A torch scheduler moves only when the loop calls `scheduler.step()`. Many tutorials call "
        "it once per epoch; with a schedule written in steps (warm-up, then cosine decay) that freezes the "
        "rate for a whole epoch, and a warm-up from 0 trains the entire first epoch at rate 0.",
        "scheduler.step()  # after every optimizer.step(), as Keras' schedule advances: not once per epoch",
    ),
    Difference(
        "bf16_compute",
        "Mixed bfloat16: a dtype policy per layer versus autocast per op",
        "Keras' `mixed_bfloat16` policy gives every layer float32 variables and bfloat16 computation; a "
        "layer may compute parts in float32 inside (normalization statistics), but returns bfloat16. "
        "`torch.autocast` decides per op: matmuls and convolutions run in bfloat16, ops on its float32 "
        "list (layer_norm among them) return float32, and the next op casts again. Both keep the "
        "variables in float32; the losses are computed in float32 in both.",
        "keras.config.set_dtype_policy('mixed_bfloat16')  # ≈ with torch.autocast('cuda', dtype=torch.bfloat16): ...",
    ),
    Difference(
        "l2_penalty_vs_sgd_weight_decay",
        "L2 in the loss versus SGD's weight_decay: a factor of two",
        "Keras' `L2(λ)` adds λΣw² to the loss; its gradient is 2λw. torch's SGD `weight_decay=wd` adds "
        "wd·w to the gradient directly. So the same number means half the decay in torch: "
        "L2(λ) ≡ SGD(weight_decay=2λ). (Applied to kernels only in both, as `kernel_regularizer` is; in "
        "torch that takes two parameter groups.)",
        "torch.optim.SGD([{'params': kernels, 'weight_decay': 2 * l2}, {'params': others, 'weight_decay': 0}], lr)"
        "  # ≡ Keras kernel_regularizer=L2(l2)",
    ),
    Difference(
        "adam_weight_decay",
        "Adam's `weight_decay`: decoupled in Keras, coupled in torch",
        "Both Adams take `weight_decay`, with different updates. Keras optimizers apply it decoupled, "
        "w ← w − lr·wd·w before the Adam step, exactly as torch's AdamW. torch's `Adam(weight_decay=wd)` "
        "adds wd·w to the gradient, which Adam then divides by its running RMS: an L2 penalty whose "
        "strength adapts per weight, so weights with small gradients are decayed far harder.",
        "torch.optim.AdamW(params, lr, eps=1e-8, weight_decay=wd)"
        "  # ≡ keras.optimizers.Adam(lr, epsilon=1e-8, weight_decay=wd)",
    ),
    Difference(
        "dropout_scaling",
        "Dropout: inverted in both",
        "Both frameworks use inverted dropout: in training a unit is zeroed with probability `rate` and "
        "the survivors are scaled by 1/(1 − rate), so the expected activation is unchanged and inference "
        "is the identity. Nothing to convert; only the switch differs (next).",
        "keras.layers.Dropout(rate) ≡ torch.nn.Dropout(rate)",
    ),
    Difference(
        "training_mode",
        "Training mode: an argument in Keras, a module state in torch",
        "Keras passes `training=` down each call: `fit` uses training=True, `evaluate`/`predict` and a "
        "direct `model(x)` use inference. A torch module carries a mode: it starts in training mode and "
        "stays there until `.eval()`, so forgetting it evaluates with dropout on and BatchNorm updating "
        "its running statistics, even under `torch.no_grad()`. Freezing differs too: Keras' "
        "`layer.trainable = False` also puts BatchNorm in inference mode; torch's `requires_grad_(False)` "
        "does not change the mode.",
        "model.eval()  # before evaluating in torch; bn.eval() to freeze BatchNorm statistics like trainable=False",
    ),
    Difference(
        "augmentation_distribution",
        "Augmentation: preprocessing layers versus tensor ops, the same distribution",
        "Keras: `RandomRotation(10/360)` then `RandomTranslation(0.1, 0.1)` (fill_mode='constant': the "
        "default 'reflect' would mirror strokes into the border), inside the model and active only in "
        "training. torch: one `affine_grid`/`grid_sample` with the same random rotation and shift, in the "
        "training loop (compare the twins in keras_models/augment.py and torch_models/augment.py). The "
        "centroid and orientation spreads of an augmented bar show the same distribution; Keras resamples "
        "twice, torch once. Keras' image layers declare supports_jit=False, which turns XLA off for "
        "a model that contains them.",
        "x = F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), "
        "padding_mode='zeros', align_corners=False)",
    ),
]
