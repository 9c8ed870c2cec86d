"""Resolve the options one benchmark run gets: the profile's options file + overrides + the row's part.

The benchmark sets only what a row is about (its name, seed, training set, device, the test set as
validation set for the curves); everything else comes from the options files the profile names,
so a row trains exactly as ``python gsdd_basicsr/train.py -opt <that file>`` does.

A variant's or ablation's overrides may say ``'{scale}'`` (:data:`SCALE`) where the profile's scale belongs:
a value that is exactly ``'{scale}'`` becomes that number, and ``{scale}`` inside a string (a file name)
becomes its digits, so one lever serves a profile at any scale.
"""
import math
from os import path as osp

from gsdd_basicsr.benchmark.profiles import drop, merge, read_yaml, shipped_ablations
from gsdd_basicsr.errors import GSDDError, MissingInputError

VAL_NAME = 'benchmark_test'
VAL_PHOTOS_NAME = 'benchmark_val'  # the instrument check's dataset (--val-root): apart from the test set's results
SCALE = '{scale}'  # in a lever's overrides: the profile's scale


def distill_options(prof, variant, ipc, seed, set_id, data):
    """GSDDModel options for ``variant`` (``gsdd``, a profile variant or ablation, or ``gsdd-<generator>``).

    A distillation the profile keeps ``datasets.val`` for logs ``val_dm`` against the training images
    themselves (fixed crops, fixed embedders): the curve of the objective, to see it flatten.

    Args:
        data (dict): ``train_root``, ``scale``, ``class_mode`` (folder | kmeans), ``num_classes``,
            ``num_images``, ``num_gpu``.
    """
    d = prof['distill']
    opt = drop(merge(read_yaml(d['options']), d.get('overrides')), d.get('drop'))
    opt.update(name=set_id, scale=data['scale'], manual_seed=seed, num_gpu=data['num_gpu'])
    opt['gsdd']['ipc'] = ipc
    tr = opt['datasets']['train']['real']  # the real set to distil
    tr.update(name='benchmark_train', dataroot_gt=data['train_root'])
    tr['gt_size'] = data['scale'] * opt['gsdd']['latent_size']
    tr.pop('meta_info_file', None)
    tr['class_mode'] = data['class_mode']
    if data['class_mode'] == 'kmeans':
        tr['num_classes'] = data['num_classes']
    tr['cache'] = data['num_images'] <= 2000  # decoded images in memory only for small sets
    tr['io_backend'] = {'type': 'disk'}
    if 'val' in opt['datasets']:  # val_dm against the real set distilled: the matching objective's curve
        val = opt['datasets']['val']
        val.update({k: tr[k] for k in ('dataroot_gt', 'gt_size', 'class_mode', 'io_backend', 'cache')},
                   name='benchmark_train_dm')
        val.pop('meta_info_file', None)
        if data['class_mode'] == 'kmeans':
            val['num_classes'] = data['num_classes']
    levers = {**shipped_ablations(), **prof['variants']}  # their names differ (load_profile)
    if variant in levers:  # a variant or ablation: its drops and overrides on top of the profile's
        opt = merge(drop(opt, levers[variant].get('drop')), _fill_scale(levers[variant].get('overrides'), opt['scale']))
    elif variant != 'gsdd':
        from gsdd_basicsr.weights import realesrgan
        model = variant[len('gsdd-'):]
        opt['network_g'] = realesrgan.network_options(model)
        opt['path']['pretrain_network_g'] = realesrgan.default_path(model)
    pre = opt['path'].get('pretrain_network_g')
    if pre:  # relative to the folder the benchmark runs in, as for train.py (the run itself starts in its own)
        opt['path']['pretrain_network_g'] = osp.abspath(pre)
    opt['path']['resume_state'] = None
    return opt


def _fill_scale(value, scale):
    """``value`` (a lever's overrides) with :data:`SCALE` filled in: ``'{scale}'`` -> ``scale`` (int), and
    ``'..._x{scale}.pth'`` -> ``'..._x<scale>.pth'``; anything else unchanged."""
    if isinstance(value, dict):
        return {k: _fill_scale(v, scale) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_scale(v, scale) for v in value]
    if value == SCALE:
        return scale
    return value.replace(SCALE, str(scale)) if isinstance(value, str) else value


def _absolute_weights(opt):
    """Fix the LPIPS / VGG weights files (``weights``, default ``experiments/pretrained_models/lpips_*.pth``) of
    the options' LPIPS metrics and offline perceptual loss to absolute paths: runs start in their own folder."""
    from gsdd_basicsr.weights.lpips import default_path
    uses = [(m, m.get('net', 'alex')) for m in ((opt.get('val') or {}).get('metrics') or {}).values()
            if m.get('type') == 'calculate_lpips']
    percep = (opt.get('train') or {}).get('perceptual_opt') or {}
    if percep.get('type') == 'OfflinePerceptualLoss':
        if percep.get('vgg_type', 'vgg16') == 'vgg16':
            uses.append((percep, 'vgg'))
        elif percep.get('weights'):  # vgg19's default is torchvision's cache, already absolute
            percep['weights'] = osp.abspath(percep['weights'])
    for block, net in uses:
        block['weights'] = osp.abspath(block.get('weights') or default_path(net))
    return opt


def _set_train_data(ds, dataroot, scale):
    """Point a training dataset block at an image set in the exported layout (HR/, LR_bicubic/X<s>/,
    meta_info.txt); ``RealESRGANDataset`` reads only HR/ and meta_info.txt (its LR comes from the degradations)."""
    if ds.get('type') == 'DistilledImageDataset':
        ds['dataroot'] = dataroot
    elif ds.get('type') == 'RealESRGANDataset':
        ds.update(dataroot_gt=osp.join(dataroot, 'HR'), meta_info=osp.join(dataroot, 'meta_info.txt'))
    elif ds.get('type') == 'PairedImageDataset':
        ds.update(dataroot_gt=osp.join(dataroot, 'HR'), dataroot_lq=osp.join(dataroot, 'LR_bicubic', f'X{scale}'),
                  filename_tmpl='{}')
        ds.pop('meta_info_file', None)
    else:
        raise GSDDError(f'training dataset type {ds.get("type")!r} is not one the benchmark can point at its image '
                        'sets; use DistilledImageDataset, PairedImageDataset or RealESRGANDataset in the training '
                        'options')
    ds['name'] = osp.basename(dataroot)
    ds['io_backend'] = {'type': 'disk'}


def check_test_root(root, flag, scale):
    """``root`` (the folder given as ``flag``: ``--test-root`` or ``--val-root``) as an absolute path, when it holds
    what the rows' tests read (:func:`_test_set`, BasicSR's ``PairedImageDataset``): the same file names, at least
    one, in ``HR/`` and ``LR_bicubic/X<scale>/``, every one an image (hidden files and subfolders are not read); else
    one line naming it, so a bad test set stops a benchmark before its first distillation rather than at its first
    test.
    """
    from basicsr.utils.misc import scandir  # the listing PairedImageDataset pairs by name

    from gsdd_basicsr.utils.image_io import is_image_file
    layout = f'it needs HR/ and LR_bicubic/X{scale}/ with the same file names (tools/prepare_photo_data.py writes both)'
    names = {}
    for sub in ('HR', osp.join('LR_bicubic', f'X{scale}')):
        folder = osp.join(root, sub)
        names[sub] = set(scandir(folder)) if osp.isdir(folder) else set()
        if not names[sub]:
            raise MissingInputError(f'{flag} {root} has no images in {sub}/; {layout}')
        other = sorted(n for n in names[sub] if not is_image_file(n))
        if other:  # BasicSR would try to read it as an image
            raise GSDDError(f'{flag} {root}: {sub}/{other[0]} is not an image, and BasicSR reads every file there; '
                            'move it out of the folder')
    hr, lr = names.values()
    if hr != lr:
        odd = sorted(hr ^ lr)
        raise GSDDError(f'{flag} {root}: {len(hr - lr)} file(s) only in HR/ and {len(lr - hr)} only in '
                        f'LR_bicubic/X{scale}/ (e.g. {odd[0]}); {layout}')
    return osp.abspath(root)


def _test_set(test_root, scale, template=None):
    ds = dict(template or {})
    ds.update(name=VAL_NAME, type='PairedImageDataset', dataroot_gt=osp.join(test_root, 'HR'),
              dataroot_lq=osp.join(test_root, 'LR_bicubic', f'X{scale}'), filename_tmpl='{}',
              io_backend={'type': 'disk'})
    ds.pop('meta_info_file', None)
    return ds


def sr_train_options(prof, net, kind, row_id, seed, dataroot, test_root, scale, num_gpu):
    """Training options of one row (the options file's model, e.g. SRModel, ESRGANModel or RealESRGANModel);
    validation (the curve) runs on the test set: PSNR, plus the metrics named in ``sr_nets.<net>.curve_metrics``.
    Rows train from scratch unless ``sr_nets.<net>.keep_pretrain`` is true (fine-tuning: the options file's
    ``path.pretrain_network_g``, made absolute, as the starting weights of every row of that network)."""
    spec = prof['sr_nets'][net]
    opt = drop(merge(read_yaml(spec['options'][kind]), spec.get('overrides')), spec.get('drop'))
    opt.update(name=row_id, manual_seed=seed, scale=scale, num_gpu=num_gpu)
    _set_train_data(opt['datasets']['train'], dataroot, scale)
    vals = [k for k in opt['datasets'] if k.split('_')[0] == 'val']
    template = opt['datasets'][vals[0]] if vals else None
    for k in vals:
        del opt['datasets'][k]
    opt['datasets']['val'] = _test_set(test_root, scale, template)
    if not (opt.get('val') or {}).get('val_freq'):
        raise GSDDError(f'{spec["options"][kind]}: the benchmark needs val.val_freq (the validation curve); '
                        f'set it there or in the profile\'s sr_nets.{net}.overrides')
    # the curve: PSNR, plus the options' own metrics the profile names in sr_nets.<net>.curve_metrics
    own = opt['val'].get('metrics') or {}
    missing = [m for m in spec.get('curve_metrics', []) if m not in own]
    if missing:
        raise GSDDError(f'{spec["options"][kind]}: val.metrics has no {", ".join(missing)} (named in the profile\'s '
                        f'sr_nets.{net}.curve_metrics); add it there or drop it from curve_metrics')
    opt['val'].update(save_img=False, metrics={
        'psnr': {'type': 'calculate_psnr', 'crop_border': scale, 'test_y_channel': True},
        **{m: own[m] for m in spec.get('curve_metrics', [])}})
    pre = opt['path'].get('pretrain_network_g') if spec.get('keep_pretrain') else None
    opt['path'].update(pretrain_network_g=osp.abspath(pre) if pre else None, resume_state=None)
    # a log line at every validation iteration: the validation's start time (curves exclude validation)
    freq = int(opt['logger']['print_freq'])
    opt['logger']['print_freq'] = math.gcd(freq, int(opt['val']['val_freq']))
    return _absolute_weights(opt)


def sr_test_options(prof, row_id, network_g, weights, param_key, test_root, scale, num_gpu):
    """Test options of one row: the profile's test metrics on ``test_root`` for the row's network."""
    t = prof['test']
    opt = merge(read_yaml(t['options']), t.get('overrides'))
    tests = sorted(k for k in opt.get('datasets', {}) if k.split('_')[0] == 'test')
    template = opt['datasets'][tests[0]] if tests else None
    opt['datasets'] = {'test_1': _test_set(test_root, scale, template)}
    opt.update(name=row_id, scale=scale, num_gpu=num_gpu, network_g=dict(network_g))
    opt.setdefault('path', {}).update(pretrain_network_g=weights, param_key_g=param_key, strict_load_g=True)
    opt.setdefault('val', {}).update(save_img=True, suffix=None)
    if 'psnr' not in (opt['val'].get('metrics') or {}):
        raise GSDDError(f'{t["options"]}: val.metrics needs a psnr entry (the benchmark compares rows by it)')
    return _absolute_weights(opt)


def sr_val_options(prof, test_opt, val_root, scale, num_gpu):
    """A row's test options (its ``test_options.yml``, ``test_opt``) re-pointed at the val photos ``val_root``
    (the instrument check): the same network, weights and metrics through :func:`sr_test_options`, run under the
    name ``<row>_val`` (its log and results in ``results/<row>_val/``, apart from the test's), restorations not
    saved (the report shows the test photos')."""
    path = test_opt['path']
    opt = sr_test_options(prof, f'{test_opt["name"]}_val', test_opt['network_g'], path['pretrain_network_g'],
                          path.get('param_key_g', 'params'), val_root, scale, num_gpu)
    opt['datasets']['test_1']['name'] = VAL_PHOTOS_NAME
    opt['val']['save_img'] = False
    return opt


def check_metric_weights(prof):
    """Before any run: the LPIPS weights that every row's test and every network's curve read are there (else one
    line naming the file and how to make it, :func:`gsdd_basicsr.options_check.check_lpips_weights`)."""
    from gsdd_basicsr.options_check import check_lpips_weights
    t = prof['test']
    check_lpips_weights((merge(read_yaml(t['options']), t.get('overrides')).get('val') or {}).get('metrics'))
    for spec in prof['sr_nets'].values():
        for path in sorted(set(spec['options'].values())):
            own = (drop(merge(read_yaml(path), spec.get('overrides')), spec.get('drop')).get('val') or {}).get('metrics')
            check_lpips_weights({m: (own or {}).get(m) for m in spec.get('curve_metrics', [])})


def trained_weights(train_opt, row_dir):
    """``(path, param_key)`` of the network a training run leaves (EMA weights when the run keeps them)."""
    path = osp.join(row_dir, 'experiments', train_opt['name'], 'models', 'net_g_latest.pth')
    return path, 'params_ema' if (train_opt['train'].get('ema_decay') or 0) > 0 else 'params'
