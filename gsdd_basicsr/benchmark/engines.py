"""Where the benchmark's jobs run: this machine's CPU or GPUs, or a cluster through an existing engine.

A job is one picklable call, ``fn(*args, gpu)`` (a distillation, or a row: its set, its training and test
processes, its ``row.json``); jobs are independent. Each engine runs a list of jobs and returns every job's
:class:`Outcome`: ``done``, ``bad_input`` (the job raised a ``GSDDError``: final, reported once with its one
line, never retried) or ``failed`` (it crashed or was killed: its row is simply not finished, and the next
call of the same command reruns it).

- :class:`LocalEngine`: this machine. ``slots`` are the places a job can run at once: ``None`` (a CPU slot)
  or a GPU, given to the job's processes as ``CUDA_VISIBLE_DEVICES`` (:func:`gpu_slots`: ``rows_per_gpu``
  slots per GPU, so no GPU ever holds more rows than that). Jobs run in threads of this process; their
  BasicSR runs are processes of their own.
- :class:`SlurmEngine`: a Slurm cluster through ``submitit`` (``pip install "gsdd-basicsr[slurm]"``), one
  Slurm job per benchmark job, one GPU each when the rows run on CUDA (Slurm sets ``CUDA_VISIBLE_DEVICES``).
  ``options`` are ``submitit``'s Slurm parameters (``slurm_partition``, ``timeout_min``, ``slurm_account``,
  ...). Its job logs are ``<folder>/<job id>_0_log.{out,err}``.

Another engine (e.g. Ray) is one more class with ``run(jobs) -> {name: Outcome}`` and an entry in
:func:`make_engine`.
"""
import collections
import concurrent.futures
import logging
import queue
import shutil
import subprocess
import time

from gsdd_basicsr.errors import GSDDError

ENGINES = ('local', 'slurm')
Outcome = collections.namedtuple('Outcome', 'status value message')
_TAIL = 15  # lines of a failed job's log in its report


def gpu_slots(num_gpus, rows_per_gpu, visible=None):
    """The slots of a machine's GPUs: each GPU ``rows_per_gpu`` times, GPUs alternating (the first jobs spread).

    Args:
        num_gpus (int): GPUs this process sees (``torch.cuda.device_count()``).
        rows_per_gpu (int): jobs one GPU runs at once.
        visible (str | None): this process's ``CUDA_VISIBLE_DEVICES`` (its entries are what the jobs get).

    Returns:
        list[tuple[int, str]]: ``(torch index in this process, CUDA_VISIBLE_DEVICES of the job)`` per slot.
    """
    if rows_per_gpu < 1:
        raise GSDDError(f'--rows-per-gpu must be >= 1, got {rows_per_gpu}')
    if num_gpus < 1:
        raise GSDDError('no CUDA GPU is visible; run with --device cpu or on a machine with GPUs')
    ids = [v.strip() for v in visible.split(',') if v.strip()] if visible else []
    ids = ids[:num_gpus] if len(ids) >= num_gpus else [str(i) for i in range(num_gpus)]
    return [(g, ids[g]) for _ in range(rows_per_gpu) for g in range(num_gpus)]


def call(fn, args, gpu):
    """A job's body on every engine: ``fn(*args, gpu)``; bad input comes back as an outcome, so that no engine
    retries it."""
    try:
        return Outcome('done', fn(*args, gpu), None)
    except GSDDError as err:
        return Outcome('bad_input', None, str(err))


def _tail(text, n=_TAIL):
    lines = [line for line in str(text).splitlines() if line.strip()]
    return '\n'.join(lines[-n:])


class LocalEngine:
    """This machine: ``len(slots)`` jobs at a time, each holding one slot while it runs.

    Args:
        slots (list): ``None`` (a CPU slot) or ``(torch index, CUDA_VISIBLE_DEVICES)`` per slot (:func:`gpu_slots`).
    """

    name = 'local'

    def __init__(self, slots):
        if not slots:
            raise GSDDError('no slot to run jobs on')
        self.slots = list(slots)

    def run(self, jobs):
        """Run ``[(name, fn, args)]``; returns ``{name: Outcome}``."""
        free = queue.Queue()
        for slot in self.slots:
            free.put(slot)

        def hold_a_slot(fn, args):
            slot = free.get()
            try:
                return call(fn, args, slot)
            except Exception as err:  # a crashed job leaves its row unfinished; the others go on
                return Outcome('failed', None, _tail(f'{type(err).__name__}: {err}'))
            finally:
                free.put(slot)

        with concurrent.futures.ThreadPoolExecutor(len(self.slots)) as pool:
            futures = {name: pool.submit(hold_a_slot, fn, args) for name, fn, args in jobs}
            try:
                return {name: future.result() for name, future in futures.items()}
            except BaseException:  # Ctrl-C: the running jobs' processes get it too; start no other job
                for future in futures.values():
                    future.cancel()
                raise


class SlurmEngine:
    """A Slurm cluster through ``submitit``: one Slurm job per benchmark job, submitted from this process.

    Args:
        folder (str): ``submitit``'s folder (pickled jobs, their results and logs).
        options (dict): ``submitit`` Slurm parameters, e.g. ``{'slurm_partition': 'gpu', 'timeout_min': 720}``.
        gpus (int): GPUs per job (1 for rows on CUDA, 0 on a CPU).
        cpus (int): CPUs per job.
        poll (float): seconds between two looks at the queue.
    """

    name = 'slurm'

    def __init__(self, folder, options=None, gpus=0, cpus=1, poll=1.0):
        try:
            import submitit
        except ImportError as err:
            raise GSDDError('--engine slurm needs submitit: pip install "gsdd-basicsr[slurm]" (or pip install '
                            'submitit)') from err
        if shutil.which('sbatch') is None:
            raise GSDDError('--engine slurm: no sbatch on PATH; run the benchmark on a Slurm login node')
        self.executor = submitit.AutoExecutor(folder=folder, cluster='slurm')
        params = dict(timeout_min=24 * 60, cpus_per_task=max(1, int(cpus)), nodes=1, tasks_per_node=1)
        if gpus:
            params['gpus_per_node'] = int(gpus)
        params.update(options or {})
        try:
            self.executor.update_parameters(**params)
        except (NameError, TypeError, ValueError) as err:  # submitit's words for an unknown or mistyped parameter
            raise GSDDError(f'--engine-option: {str(err).splitlines()[0]} (submitit\'s Slurm parameters: '
                            'slurm_partition, timeout_min, mem_gb, slurm_account, ...)') from err
        self.poll = poll
        # submitit asks sacct for job states; a cluster without accounting answers with an error each time
        # (a warning per look): the queue (squeue, :func:`_in_queue`) is asked instead
        logging.getLogger('submitit').addFilter(lambda record: 'Bypassing sacct error' not in record.getMessage())

    def run(self, jobs):
        """Submit ``[(name, fn, args)]``, wait for all; returns ``{name: Outcome}``."""
        submitted = {}
        for name, fn, args in jobs:
            self.executor.update_parameters(name=name)
            submitted[name] = self.executor.submit(call, fn, args, None)
        outcomes = {}
        while len(outcomes) < len(submitted):
            for name, job in submitted.items():
                if name not in outcomes and (job.done() or not _in_queue(job.job_id)):
                    outcomes[name] = self._outcome(job)
            time.sleep(self.poll)
        return outcomes

    @staticmethod
    def _outcome(job):
        try:
            return job.result()
        except Exception as err:  # killed, cancelled, timed out or crashed: submitit's error holds its log
            return Outcome('failed', None, f'Slurm job {job.job_id}: ' + _tail(err))


def _in_queue(job_id):
    """Slurm still lists the job (pending, running, completing). ``submitit`` asks ``sacct``, which a cluster
    without accounting lacks; ``squeue`` is there on every cluster."""
    res = subprocess.run(['squeue', '-h', '-j', str(job_id), '-o', '%T'], capture_output=True, text=True)
    return res.returncode == 0 and bool(res.stdout.strip())


def make_engine(name, folder, options=None, slots=None, gpus=0, cpus=1):
    """The engine ``name`` (:data:`ENGINES`): ``local`` on ``slots``, ``slurm`` with ``options`` in ``folder``."""
    if name == 'local':
        if options:
            raise GSDDError('--engine-option is for a cluster engine (--engine slurm)')
        return LocalEngine(slots)
    if name == 'slurm':  # submitit makes the folder at the first submission
        return SlurmEngine(folder, options, gpus=gpus, cpus=cpus)
    raise GSDDError(f'--engine {name} is not one of {", ".join(ENGINES)}')
