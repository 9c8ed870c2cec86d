"""Reading ncnn models: the text ``.param`` graph and the ``.bin`` of weights, as numpy arrays.

No ncnn code is imported; :mod:`gsdd_basicsr.weights.realesrgan` maps what this module reads onto
BasicSR's archs.

ncnn format, as read here (ncnn ``src/modelbin.cpp``, ``src/layer/convolution.cpp``,
``src/layer/prelu.cpp``): the ``.param`` starts with the magic ``7767517``, then
``layer_count blob_count``, then one line per layer:
``type name n_bottoms n_tops bottoms... tops... key=value...`` (a key <= -23300 is an array
``-(23300+id)=n,v1,...,vn``). The ``.bin`` holds the weighted layers' blobs in layer order:

- Convolution: ``weight_data_size`` values (layout out, in, kh, kw like PyTorch) stored with a
  4-byte tag -- ``0`` fp32, ``0x01306B47`` fp16 (padded to 4 bytes), ``0x0002C056`` fp32,
  other non-zero tags a 256-float lookup table + uint8 indices (padded), ``0x000D4B38`` int8
  (not supported) -- then ``num_output`` raw fp32 biases when ``bias_term`` (``5=1``).
- PReLU: ``num_slope`` raw fp32 values, no tag.

Every byte of the ``.bin`` must be consumed by exactly these blobs; anything else (and any layer
type outside Convolution, PReLU and :data:`WEIGHTLESS`) raises :class:`NcnnWeightsError` naming
the file and the layer.
"""
import numpy as np

from gsdd_basicsr.errors import GSDDError

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_SCALED = 0x0002C056

# ncnn layers that carry no weights and that the supported graphs may contain
WEIGHTLESS = {'Input', 'Split', 'Concat', 'Eltwise', 'BinaryOp', 'Interp', 'PixelShuffle', 'ReLU'}


class NcnnWeightsError(GSDDError):
    """An ncnn model could not be read or converted; the one-line message names the culprit and the fix."""


class NcnnLayer:
    """One ``.param`` line: ``type``, ``name``, ``bottoms``, ``tops``, ``params`` (id -> value)."""

    def __init__(self, type, name, bottoms, tops, params):
        self.type = type
        self.name = name
        self.bottoms = bottoms
        self.tops = tops
        self.params = params

    def get(self, key, default=None):
        return self.params.get(key, default)

    def __repr__(self):
        return f'NcnnLayer({self.type} {self.name})'


def _number(text):
    text = text.strip()
    if any(c in text for c in '.eE') and not text.lower().startswith('0x'):
        return float(text)
    return int(text)


def parse_param(path):
    """Parse a text ncnn ``.param`` file into a list of :class:`NcnnLayer` (in file order)."""
    with open(path, 'r', encoding='utf-8') as f:
        lines = [line.strip() for line in f if line.strip()]

    def fail(msg):
        raise NcnnWeightsError(f'{path}: {msg}')

    if not lines or lines[0] != str(NCNN_MAGIC):
        fail(f'not a text ncnn .param file (first line is not the magic {NCNN_MAGIC})')
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        fail('bad "layer_count blob_count" line')
    layers = []
    for lineno, line in enumerate(lines[2:], start=3):
        fields = line.split()
        try:
            ltype, name, n_bottom, n_top = fields[0], fields[1], int(fields[2]), int(fields[3])
            bottoms = fields[4:4 + n_bottom]
            tops = fields[4 + n_bottom:4 + n_bottom + n_top]
            if len(bottoms) != n_bottom or len(tops) != n_top:
                raise ValueError('too few blob names')
            params = {}
            for item in fields[4 + n_bottom + n_top:]:
                key, value = item.split('=', 1)
                key = int(key)
                if key <= -23300:  # array: -(23300 + id)=n,v1,...
                    values = value.split(',')
                    count = int(values[0])
                    array = [_number(v) for v in values[1:]]
                    if len(array) != count:
                        raise ValueError(f'array {key} announces {count} values, has {len(array)}')
                    params[-key - 23300] = array
                else:
                    params[key] = _number(value)
        except (IndexError, ValueError) as err:
            fail(f'line {lineno} cannot be parsed ({err})')
        layers.append(NcnnLayer(ltype, name, bottoms, tops, params))
    if len(layers) != layer_count:
        fail(f'header announces {layer_count} layers, file has {len(layers)}')
    return layers


class _BinReader:

    def __init__(self, path):
        self.path = path
        with open(path, 'rb') as f:
            self.data = f.read()
        self.pos = 0

    def _take(self, nbytes, what):
        if self.pos + nbytes > len(self.data):
            raise NcnnWeightsError(
                f'{self.path} ends at byte {len(self.data)} but {what} needs bytes {self.pos}..{self.pos + nbytes}; '
                'the file is truncated or does not belong to its .param')
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw_f32(self, count, what):
        return np.frombuffer(self._take(4 * count, what), dtype='<f4').astype(np.float32)

    def tagged(self, count, what):
        """ncnn ``ModelBin::load(w, 0)``: a 4-byte storage tag, then the values."""
        tag_bytes = self._take(4, f'{what} (storage tag)')
        tag = int.from_bytes(tag_bytes, 'little')
        if tag == TAG_FP16:
            nbytes = 2 * count
            padded = (nbytes + 3) // 4 * 4
            return np.frombuffer(self._take(padded, f'{what} (fp16)')[:nbytes], dtype='<f2').astype(np.float32)
        if tag == TAG_INT8:
            raise NcnnWeightsError(f'{self.path}: {what} is stored as int8 (quantized model), which cannot be '
                                   'converted to float weights; use an fp16/fp32 model')
        if tag in (0, TAG_FP32_SCALED):
            return self.raw_f32(count, f'{what} (fp32)')
        # any other non-zero tag: a 256-entry fp32 lookup table + uint8 indices (padded to 4 bytes)
        table = np.frombuffer(self._take(4 * 256, f'{what} (lookup table)'), dtype='<f4')
        padded = (count + 3) // 4 * 4
        index = np.frombuffer(self._take(padded, f'{what} (indices)')[:count], dtype=np.uint8)
        return table[index].astype(np.float32)

    def finish(self):
        if self.pos != len(self.data):
            raise NcnnWeightsError(
                f'{self.path} has {len(self.data) - self.pos} bytes left after the last weighted layer of its .param '
                f'(read {self.pos} of {len(self.data)}); the .bin does not match the .param')


def read_blobs(param_path, bin_path):
    """Read every weighted layer's blobs from ``bin_path``, in the order of ``param_path``.

    Returns:
        tuple: ``(layers, blobs)``: every :class:`NcnnLayer` of the graph, and a list of
        ``(NcnnLayer, dict)`` for the weighted ones: per Convolution ``{'weight': (num_output, in, kh, kw)
        float32 array, 'bias': (num_output,) array or absent}``, per PReLU ``{'weight': (num_slope,) array}``.
    """
    layers = parse_param(param_path)
    reader = _BinReader(bin_path)
    blobs = []
    for layer in layers:
        what = f'layer {layer.name} ({layer.type})'
        if layer.type == 'Convolution':
            num_output = layer.get(0, 0)
            kernel_w = layer.get(1, 0)
            kernel_h = layer.get(11, kernel_w)
            bias_term = layer.get(5, 0)
            weight_size = layer.get(6, 0)
            if layer.get(8, 0):
                raise NcnnWeightsError(f'{param_path}: {what} is int8-quantized (8={layer.get(8)}); not supported')
            per_out = kernel_w * kernel_h * num_output
            if num_output <= 0 or per_out <= 0 or weight_size % per_out:
                raise NcnnWeightsError(f'{param_path}: {what} has weight_data_size {weight_size}, not a multiple of '
                                       f'num_output * kernel ({num_output} * {kernel_h} * {kernel_w})')
            in_ch = weight_size // per_out
            weight = reader.tagged(weight_size, what + ' weight').reshape(num_output, in_ch, kernel_h, kernel_w)
            blob = {'weight': weight}
            if bias_term:
                blob['bias'] = reader.raw_f32(num_output, what + ' bias')
            blobs.append((layer, blob))
        elif layer.type == 'PReLU':
            num_slope = layer.get(0, 1)
            blobs.append((layer, {'weight': reader.raw_f32(num_slope, what + ' slope')}))
        elif layer.type not in WEIGHTLESS:
            raise NcnnWeightsError(f'{param_path}: {what} is a layer type this reader does not know '
                                   f'(known: Convolution, PReLU, {", ".join(sorted(WEIGHTLESS))})')
    reader.finish()
    return layers, blobs
