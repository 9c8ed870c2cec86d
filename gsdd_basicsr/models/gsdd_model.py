"""GSDDModel: dataset distillation in the input (latent) space of a frozen SR generator.

One optimisation step (``optimize_parameters``), for every class ``c`` this process owns:

1. ``X_c``: ``batch_real`` random real HR crops of class ``c`` (``ClassImageDataset.sample_class``);
2. ``S_c = clamp(G(Z_c), 0, 1)`` for the class's latents ``Z_c`` (all ``ipc``, or ``batch_syn`` of them);
3. one siamese augmentation draw ``w`` applied to both batches, and one freshly drawn embedding
   network ``psi`` (a random ``DMConvNet`` and/or the generator's own trunk, the teacher space);
4. ``L_c = sum_layers || mean psi(A_w(X_c)) - mean psi(A_w(S_c)) ||^2 + lambda_reg * R(Z_c)`` where
   ``R`` is :func:`gsdd_basicsr.distill.matching.latent_homogeneity` (mean pairwise cosine similarity of
   the class's centred latents);
5. ``L_c.backward()`` at once (frees the class's graph), and after all classes one Adam step on
   the latents. ``G`` and ``psi`` have ``requires_grad=False``: only latents change.

Every random draw of step ``t`` and class ``c`` (real crops, augmentation, ``psi``, the latent
subset) comes from a stream keyed by ``(manual_seed, t, c, purpose)``. BasicSR's data loader only
drives the iteration count (``DistillationStepDataset``); the model builds the real set
(``datasets.train.real``) once and draws its own class-balanced batches, so a resumed run and
a run whose classes are sharded over processes (``--launcher pytorch``: class ``c`` belongs to
rank ``c % world_size``) produce the bank an uninterrupted single-process run produces.
"""
import contextlib
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from os import path as osp

import torch
import torch.distributed as dist
from torch.profiler import record_function
from basicsr.data import build_dataset
from basicsr.models.base_model import BaseModel
from basicsr.utils import get_root_logger, imwrite, tensor2img
from basicsr.utils.registry import ARCH_REGISTRY, MODEL_REGISTRY

from gsdd_basicsr.distill.acceleration import accelerate, resolve_amp, to_layout
from gsdd_basicsr.distill.augment import SiameseAugment
from gsdd_basicsr.distill.matching import (FrequencyStatistics, TeacherFeatures, default_layers,
                                           grouped_matching_loss, hf_residual, latent_homogeneity)
from gsdd_basicsr.distill.options import parse_gsdd_options
from gsdd_basicsr.bank.format import build_latent_bank
from gsdd_basicsr.bank.render import render_latents
from gsdd_basicsr.errors import GSDDError, RunFailure, out_of_memory_hint
from gsdd_basicsr.models import gsdd_latent_init
from gsdd_basicsr.models.gsdd_checkpoint import check_resumable, training_state, write_checkpoint
from gsdd_basicsr.models.gsdd_validation import bank_grid, val_crops, val_metrics
from gsdd_basicsr.utils.seeding import configure_determinism, keyed_generator
from gsdd_basicsr.weights.generator import load_frozen_generator


REGION_PREFIX = 'gsdd.'
#: The ``torch.profiler`` region of each part of a distillation step, in the step's order (what
#: :mod:`gsdd_basicsr.profiling.step_regions` reads).
REGIONS = {part: f'{REGION_PREFIX}{part}' for part in (
    'data', 'draw', 'augment', 'embed_real', 'render', 'embed_syn', 'loss', 'backward', 'sync', 'optimizer')}


@contextlib.contextmanager
def _rejected_setting(key, type_name, offered):
    """An optimizer or scheduler setting torch rejects (``lr: -1``, an unknown argument, ...) or a type
    basicsr does not offer -> one ``GSDDError`` naming ``key`` instead of torch's or basicsr's traceback."""
    try:
        yield
    except GSDDError:
        raise
    except NotImplementedError as err:  # basicsr's answer to a type it does not build
        raise GSDDError(f'{key}.type {type_name} is not supported; basicsr 1.4.2 offers {offered}.') from err
    except (ValueError, TypeError, KeyError, AssertionError) as err:
        reason = ' '.join(str(err).split()) or type(err).__name__
        raise GSDDError(f'{key} ({type_name}) is rejected: {reason}; fix {key} in the options file.') from err


@MODEL_REGISTRY.register()
class GSDDModel(BaseModel):
    """Distils ``datasets.train.real`` (a ``ClassImageDataset``) into ``ipc`` latents per class.

    Options: ``network_g`` + ``path.pretrain_network_g`` (the frozen generator), the ``gsdd:``
    block (see :mod:`gsdd_basicsr.distill.options`), ``train.optim_z`` and ``train.scheduler``.
    In reading order: construction, the step, validation, checkpoints. The first latents, the
    validation's figures and the checkpoint format are plain functions of what they use
    (:mod:`.gsdd_latent_init`, :mod:`.gsdd_validation`, :mod:`.gsdd_checkpoint`).

    Attributes:
        latents (torch.nn.Parameter): N x 3 x p x p, N = num_classes * ipc, class-major
            (rows ``c*ipc ... (c+1)*ipc - 1`` belong to class ``c``); nominal range [0, 1].
        labels (torch.LongTensor): N class indices.
    """

    def __init__(self, opt):
        configure_determinism(bool(opt.get('deterministic', False)))  # before any CUDA work
        super().__init__(opt)
        self.logger = get_root_logger()
        self.gsdd = parse_gsdd_options(opt.get('gsdd'))
        self.amp_dtype = resolve_amp(self.gsdd['amp'], self.device, self.logger)  # None: float32
        # fp16 needs loss scaling (its range underflows small gradients); bf16 and float32 do not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.seed = int(opt.get('manual_seed') or 0)
        self.rank, self.world_size = opt.get('rank', 0), opt.get('world_size', 1)
        g, p, scale = self.gsdd, self.gsdd['latent_size'], opt['scale']
        self.hr_size = scale * p

        path_opt = opt['path']
        self.net_g = load_frozen_generator(
            opt['network_g'], path_opt.get('pretrain_network_g'), param_key=path_opt.get('param_key_g', 'params_ema'),
            strict=path_opt.get('strict_load_g', True), scale=scale, device=self.device)

        self.real = self._build_real(opt['datasets']['train'])
        if self.real.gt_size != self.hr_size:
            raise GSDDError(f'datasets.train.real.gt_size is {self.real.gt_size} but scale * gsdd.latent_size is '
                            f'{self.hr_size}; set gt_size: {self.hr_size}.')
        self.class_names = list(self.real.class_names)
        self.num_classes = len(self.class_names)
        self.own_classes = [c for c in range(self.num_classes) if c % self.world_size == self.rank]
        self.labels = torch.arange(self.num_classes).repeat_interleave(g['ipc'])

        self.augment = SiameseAugment(**g['augment']) if g['augment'] is not None else None
        self.embedder = None
        if 'dmconvnet' in g['feature_space']:
            self.embedder = ARCH_REGISTRY.get('DMConvNet')(**g['embed']).to(self.device).requires_grad_(False)
        self.teacher = None
        self.frequency = FrequencyStatistics(**g['frequency']) if 'frequency' in g['feature_space'] else None
        if 'teacher' in g['feature_space']:
            # a private copy: the teacher's hooks must never fire while G renders the latents
            teacher = deepcopy(self.net_g)
            self.teacher = TeacherFeatures(teacher, g['teacher_layers'] or default_layers(teacher), scale)
        # the step's generator and embedder: compiled / channels-last per gsdd.compile, gsdd.channels_last
        self._render_net, self._embed_net = accelerate(self.net_g, self.embedder, g)

        self.latents = torch.nn.Parameter(torch.zeros(len(self.labels), 3, p, p, device=self.device))
        if not path_opt.get('resume_state'):  # a resumed run takes its latents from the state
            with out_of_memory_hint('the latent initialisation', 'lower gsdd.ipc or gsdd.latent_size (inversion '
                                    'renders a class\'s ipc latents at once), or set gsdd.amp: bf16'):
                self._initialise_latents()
        self.log_dict = {}
        self.current_iter = 0
        self._prefetcher = ThreadPoolExecutor(max_workers=1) if g['prefetch'] else None
        self._pending = None  # (iteration, future) of the next step's real crops
        if self.is_train:
            self._setup_optimizer()

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _build_real(train_opt):
        """The real set, ``datasets.train.real`` (BasicSR's loader iterates ``DistillationStepDataset``)."""
        if train_opt.get('type') != 'DistillationStepDataset':
            raise GSDDError(f"datasets.train.type is {train_opt.get('type')}; a distillation's datasets.train is "
                            'type: DistillationStepDataset with the real images under datasets.train.real '
                            '(see options/gsdd_distill_demo_x4.yml).')
        real = dict(train_opt['real'], phase='train')
        real.setdefault('name', train_opt.get('name', 'train'))
        dataset = build_dataset(real)
        if not hasattr(dataset, 'sample_class'):
            raise GSDDError(f"datasets.train.real.type is {real['type']}; GSDDModel needs ClassImageDataset (real "
                            'HR images with class labels).')
        return dataset

    def _setup_optimizer(self):
        train_opt = self.opt['train']
        optim_opt = dict(train_opt.get('optim_z') or {'type': 'Adam', 'lr': 0.01})
        optim_type = optim_opt.pop('type')
        with _rejected_setting('train.optim_z', optim_type, 'Adam'):
            self.optimizer_z = self.get_optimizer(optim_type, [self.latents], **optim_opt)
        self.optimizers.append(self.optimizer_z)
        if train_opt.get('scheduler'):
            with _rejected_setting('train.scheduler', train_opt['scheduler'].get('type'),
                                   'MultiStepLR, MultiStepRestartLR and CosineAnnealingRestartLR'):
                self.setup_schedulers()

    @torch.no_grad()
    def _initialise_latents(self):
        """``gsdd.init`` for the classes this process owns (keyed ``(manual_seed, 'init', c)``), then every
        process's rows assembled (:mod:`.gsdd_latent_init`; an inversion has its own loss scaler)."""
        for c in self.own_classes:
            self.latents[self._class_rows(c)] = gsdd_latent_init.initial_class_latents(
                self.gsdd, self.real, c, (self.seed, 'init', c), self.net_g, self.device, self.amp_dtype, self.logger)
        self.latents.data = self._gather_rows(self.latents.data)

    def _class_rows(self, c):
        ipc = self.gsdd['ipc']
        return slice(c * ipc, (c + 1) * ipc)

    def _autocast(self):
        """Mixed precision for the generator and embedding passes (``gsdd.amp``); a no-op for ``none``."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ distributed helpers
    def _gather_rows(self, rows):
        """Every process's owned rows of an N x ... tensor, assembled on every process."""
        if self.world_size == 1:
            return rows
        owned = torch.zeros(self.num_classes, dtype=torch.bool)
        owned[self.own_classes] = True
        mask = owned.repeat_interleave(self.gsdd['ipc']).to(self.device).view(-1, *([1] * (rows.dim() - 1)))
        out = torch.where(mask, rows, torch.zeros_like(rows))
        dist.all_reduce(out)
        return out

    # ------------------------------------------------------------------ the step
    def feed_data(self, data):
        """BasicSR's loader only counts iterations: the real batches are drawn per (seed, iter, class)."""

    def _draw_real(self, iteration):
        return {c: self.real.sample_class(c, self.gsdd['batch_real'], (self.seed, iteration, c, 'real'))
                for c in self.own_classes}

    def _real_batches(self, iteration):
        if self._prefetcher is None:
            batches = self._draw_real(iteration)
        else:
            pending, self._pending = self._pending, None
            batches = pending[1].result() if pending and pending[0] == iteration else self._draw_real(iteration)
            self._pending = (iteration + 1, self._prefetcher.submit(self._draw_real, iteration + 1))
        return {c: x.to(self.device, non_blocking=True) for c, x in batches.items()}

    def _syn_rows(self, c, iteration):
        rows = self._class_rows(c)
        batch_syn = self.gsdd['batch_syn']
        if batch_syn is None or batch_syn == self.gsdd['ipc']:
            return rows
        gen = keyed_generator(self.seed, iteration, c, 'syn')
        return rows.start + torch.randperm(self.gsdd['ipc'], generator=gen)[:batch_syn].to(self.device)

    def _embed(self, x):
        """Features of an HR batch (B x 3 x H x W in [0, 1]) in the configured space(s): list of B x D."""
        if self.gsdd['match_residual']:
            x = hf_residual(x, self.opt['scale'])
        feats = []
        with self._autocast():
            if self.embedder is not None:
                feats += self._embed_net(to_layout(x, self.gsdd))
            if self.teacher is not None:
                feats += self.teacher(x)
        if self.frequency is not None:  # float32: log energies of small bands
            feats += self.frequency(x)
        return [f.float() for f in feats]  # the loss reduction runs in float32 whatever gsdd.amp

    def _draw_space(self, *key):
        """Re-draw the random embedding network and the augmentation for one (step, class)."""
        if self.embedder is not None:
            self.embedder.reset_parameters(keyed_generator(*key, 'embed', device=self.device))
        if self.augment is None:
            return None
        # drawn on the host: the draw is 12 Python numbers, and a CUDA draw would sync the host on the GPU
        return self.augment.draw(keyed_generator(*key, 'augment'))

    def _augment(self, x, params):
        return x if params is None else self.augment.apply(x, params)

    def optimize_parameters(self, current_iter):
        """One distillation step.

        The generator renders a group of classes at once (each class alone, or all owned classes
        with ``gsdd.fuse_classes``); each class's matching loss is back-propagated to the rendered
        images right away (so its embedding network can be re-drawn for the next class), and one
        backward pass per group carries the summed image gradients and ``lambda_reg * R`` through
        the generator to the latents. The parts run inside ``torch.profiler.record_function``
        regions (:data:`REGIONS`; free when no profiler runs), read by :mod:`gsdd_basicsr.profiling.step_regions`.
        """
        self.current_iter = current_iter
        with out_of_memory_hint(f'the distillation step (iteration {current_iter})',
                                'lower gsdd.batch_real or gsdd.batch_syn, set gsdd.fuse_classes: false or '
                                'gsdd.amp: bf16, and resume with --auto_resume from the last checkpoint'):
            values = self._step(current_iter)
        if not torch.isfinite(values).all():
            bad = [self.class_names[c] for c in range(self.num_classes) if not torch.isfinite(values[:, c]).all()]
            raise RunFailure(f'non-finite distillation loss at iteration {current_iter} (classes: {", ".join(bad)}); '
                             'lower train.optim_z.lr or gsdd.lambda_reg, or resume from the last checkpoint.')
        with record_function(REGIONS['optimizer']):
            self.scaler.step(self.optimizer_z)
            self.scaler.update()
        lambda_reg = self.gsdd['lambda_reg']
        l_dm, l_reg = values.mean(dim=1).tolist()
        self.log_dict = {'l_dm': l_dm, 'l_reg': l_reg, 'l_total': l_dm + lambda_reg * l_reg}

    def _step(self, current_iter):
        """Gradients of the step's loss on the latents; returns the 2 x num_classes (l_dm, l_reg) on the CPU."""
        with record_function(REGIONS['data']):
            real = self._real_batches(current_iter)
        self.optimizer_z.zero_grad(set_to_none=True)
        lambda_reg = self.gsdd['lambda_reg']
        per_class = torch.zeros(2, self.num_classes, device=self.device)  # rows: l_dm, l_reg
        groups = [self.own_classes] if self.gsdd['fuse_classes'] else [[c] for c in self.own_classes]
        for classes in groups:
            with record_function(REGIONS['render']):
                rows = [self._syn_rows(c, current_iter) for c in classes]
                z = [self.latents[r] for r in rows]
                if self.gsdd['cuda_graphs']:  # each render is a new graph replay: earlier outputs are done with
                    torch.compiler.cudagraph_mark_step_begin()
                with self._autocast():
                    syn = self._render_net(to_layout(z[0] if len(z) == 1 else torch.cat(z), self.gsdd)).clamp(0, 1)
            # the embedding side back-propagates into this leaf class by class
            syn_leaf = syn.detach().requires_grad_(True)
            for c, syn_c in zip(classes, syn_leaf.split([len(zc) for zc in z])):
                with record_function(REGIONS['draw']):
                    params = self._draw_space(self.seed, current_iter, c)
                with torch.no_grad():
                    with record_function(REGIONS['augment']):
                        real_aug = self._augment(real[c], params)
                    with record_function(REGIONS['embed_real']):
                        feats_real = self._embed(real_aug)
                with record_function(REGIONS['augment']):
                    syn_aug = self._augment(syn_c, params)
                with record_function(REGIONS['embed_syn']):
                    feats_syn = self._embed(syn_aug)
                with record_function(REGIONS['loss']):
                    l_dm = grouped_matching_loss(feats_real, feats_syn, self.gsdd['match_groups'])
                with record_function(REGIONS['backward']):
                    self.scaler.scale(l_dm).backward()
                per_class[0, c] = l_dm.detach()
            with record_function(REGIONS['loss']):
                l_reg = [latent_homogeneity(zc) if lambda_reg > 0 else zc.new_zeros(()) for zc in z]
                for c, value in zip(classes, l_reg):
                    per_class[1, c] = value.detach()
            with record_function(REGIONS['backward']):
                outputs, grads = [syn], [syn_leaf.grad]
                if lambda_reg > 0:
                    outputs.append(self.scaler.scale(lambda_reg * torch.stack(l_reg).sum()))
                    grads.append(None)
                torch.autograd.backward(outputs, grads)
        with record_function(REGIONS['sync']):
            if self.world_size > 1:
                dist.all_reduce(per_class)
            return per_class.cpu()  # the step's one host sync: logging and the finiteness check

    def get_current_log(self):
        return self.log_dict

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def render(self, batch_size=None):
        """All latents decoded: N x 3 x sp x sp in [0, 1] (collective under --launcher pytorch)."""
        return render_latents(self._gather_rows(self.latents.detach()), self.net_g, batch_size or self.gsdd['ipc'])

    @torch.no_grad()
    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        """``val_dm``, ``diversity`` and ``homogeneity`` of the bank (:func:`.gsdd_validation.val_metrics`)
        against ``gsdd.val_crops`` crops of ``dataloader.dataset`` (a ``ClassImageDataset``; BasicSR calls
        this every ``val.val_freq`` iterations), logged and sent to tensorboard; with ``save_img``
        (BasicSR's ``val.save_img``) also the bank's grid, ``visualization/grid_<iter>.png`` and tensorboard's
        ``gsdd/grid``. Returns the figures."""
        with out_of_memory_hint('the validation', 'lower gsdd.ipc (the bank renders one class at a time) or '
                                'gsdd.val_crops'):
            images = self.render()
            real = val_crops(dataloader.dataset, self.gsdd['val_crops'], self.seed).to(self.device)
            metrics = val_metrics(images, self.latents, self.gsdd['ipc'], real, self.gsdd['val_embed_draws'],
                                  lambda k: self._draw_space(self.seed, 'val', k), self._embed)
        self.metric_results = metrics
        if self.rank != 0:
            return metrics
        name = dataloader.dataset.opt.get('name', 'val')
        self.logger.info(f'Validation {name} at iter {current_iter}: ' +
                         ', '.join(f'{k}: {v:.4e}' for k, v in metrics.items()))
        for key, value in metrics.items() if tb_logger else ():
            tb_logger.add_scalar(f'metrics/{name}/{key}', value, current_iter)
        if save_img:
            grid = bank_grid(images, self.gsdd['ipc'], self.gsdd['grid_per_class'])
            imwrite(tensor2img(grid), osp.join(self.opt['path']['visualization'], f'grid_{current_iter}.png'))
            if tb_logger:
                tb_logger.add_image('gsdd/grid', grid, current_iter)
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def latent_bank(self, current_iter):
        """The bank (:mod:`gsdd_basicsr.bank.format`'s format; collective under --launcher pytorch)."""
        path_opt = self.opt['path']
        return build_latent_bank(
            self._gather_rows(self.latents.detach()), self.labels, self.class_names, self.opt['scale'],
            self.opt['network_g'], current_iter, pretrain_network_g=path_opt.get('pretrain_network_g'),
            param_key_g=path_opt.get('param_key_g', 'params_ema'), gsdd=dict(self.gsdd))

    def save(self, epoch, current_iter):
        """BasicSR's checkpoint call: the banks and the state of :mod:`.gsdd_checkpoint` (``current_iter``
        -1: the final save, ``latents_latest.pth`` of the last iteration only). Collective; rank 0 writes."""
        final = current_iter == -1
        iteration = self.current_iter if final else current_iter
        bank = self.latent_bank(iteration)
        state = None if final else self._training_state(epoch, current_iter)
        if self.rank == 0:
            write_checkpoint(bank, state, self.opt['path'], iteration, self.gsdd['bank_dtype'])

    def save_training_state(self, epoch, current_iter):
        self.save(epoch, current_iter)  # one state file holds all: written by save

    def _training_state(self, epoch, current_iter):
        return training_state(epoch, current_iter, self.optimizer_z, self.schedulers, self.scaler, self.latents,
                              self._gather_rows)

    def resume_training(self, resume_state):
        check_resumable(resume_state, self.latents.shape, self.opt['path'].get('resume_state'))
        super().resume_training(resume_state)
        if resume_state.get('grad_scaler'):
            self.scaler.load_state_dict(resume_state['grad_scaler'])
        self.current_iter = int(resume_state['iter'])  # a final save right after resuming names this iteration
        with torch.no_grad():
            self.latents.copy_(resume_state['latents'].to(self.device))

    def __del__(self):
        if getattr(self, '_prefetcher', None) is not None:
            self._prefetcher.shutdown(wait=False, cancel_futures=True)
