"""gsdd_basicsr.benchmark.engines: GPU slots (which job gets which GPU, never more than --rows-per-gpu on one),
the local engine's outcomes, and Slurm through submitit on a real local cluster (skipped where Slurm is missing)."""
import os
import sys
import threading
import time

import pytest

from gsdd_basicsr.benchmark import runner
from gsdd_basicsr.benchmark.engines import LocalEngine, SlurmEngine, gpu_slots, make_engine
from gsdd_basicsr.errors import GSDDError


def test_gpu_slots_alternate_gpus_and_follow_cuda_visible_devices():
    assert gpu_slots(2, 1) == [(0, '0'), (1, '1')]
    assert gpu_slots(2, 2) == [(0, '0'), (1, '1'), (0, '0'), (1, '1')]
    # this process sees GPUs 4 and 6 as cuda:0 and cuda:1; a job on cuda:1 gets CUDA_VISIBLE_DEVICES=6
    assert gpu_slots(2, 1, visible='4,6') == [(0, '4'), (1, '6')]
    with pytest.raises(GSDDError, match='--rows-per-gpu'):
        gpu_slots(2, 0)
    with pytest.raises(GSDDError, match='no CUDA GPU'):
        gpu_slots(0, 1)


def test_process_plan_gives_every_gpu_its_rows_and_splits_the_cores():
    plan = runner.process_plan('cuda', 1, None, 16, num_gpus=8, rows_per_gpu=1)
    assert [s[1] for s in plan['slots']] == [str(g) for g in range(8)] and plan['threads'] == 2
    plan = runner.process_plan('cuda', 1, None, 16, num_gpus=2, rows_per_gpu=4)
    assert len(plan['slots']) == 8 and plan['threads'] == 2
    assert runner.process_plan('cuda', 1, 3, 16, num_gpus=8)['threads'] == 3  # an explicit --threads wins
    assert runner.process_plan('cuda', 1, None, 16, num_gpus=1)['threads'] is None  # one row: torch's default
    assert runner.process_plan('cpu', 2, 1, 2) == dict(slots=[None, None], threads=1, device_type='cpu')
    # --jobs N on CUDA: N rows at once, spread over the GPUs (8 on one GPU, 3 on two: 2 + 1)
    assert [s[1] for s in runner.process_plan('cuda', 8, None, 16, num_gpus=1)['slots']] == ['0'] * 8
    assert [s[1] for s in runner.process_plan('cuda', 3, None, 16, num_gpus=2)['slots']] == ['0', '1', '0']
    with pytest.raises(GSDDError, match='--rows-per-gpu'):
        runner.process_plan('cuda', 1, None, 16, num_gpus=1, rows_per_gpu=0)
    with pytest.raises(GSDDError, match='--jobs 2'):
        runner.process_plan('mps', 2, None, 8)


def test_local_engine_places_jobs_without_overfilling_a_gpu():
    """20 jobs on 3 GPUs x 2 rows: each job holds one slot while it runs; no GPU ever runs more than 2."""
    lock, running, peak, seen = threading.Lock(), {}, {}, []

    def job(k, gpu):
        with lock:
            running[gpu[1]] = running.get(gpu[1], 0) + 1
            peak[gpu[1]] = max(peak.get(gpu[1], 0), running[gpu[1]])
            seen.append((k, gpu))
        time.sleep(0.02)
        with lock:
            running[gpu[1]] -= 1
        return k * k

    out = LocalEngine(gpu_slots(3, 2)).run([(f'row{k}', job, (k, )) for k in range(20)])
    assert {name: o.value for name, o in out.items()} == {f'row{k}': k * k for k in range(20)}
    assert all(o.status == 'done' for o in out.values())
    assert set(peak) == {'0', '1', '2'} and max(peak.values()) == 2
    assert sorted(k for k, _ in seen) == list(range(20))


def _bad_input(path, gpu):
    with open(path, 'a') as f:  # one line per call: a retried job would write two
        f.write('called\n')
    raise GSDDError('datasets/x does not exist; pass --train-root')


def _crash(gpu):
    raise RuntimeError('out of disk\nlast line of the log')


def _square(x, gpu):
    return x * x, gpu, os.environ.get('SLURM_JOB_ID')


def test_local_engine_outcomes(tmp_path):
    calls = tmp_path / 'calls'
    out = make_engine('local', None, slots=[None]).run([('a', _square, (3, )), ('b', _bad_input, (str(calls), )),
                                                        ('c', _crash, ())])
    assert out['a'].status == 'done' and out['a'].value == (9, None, None)
    assert out['b'] == ('bad_input', None, 'datasets/x does not exist; pass --train-root')
    assert calls.read_text() == 'called\n'
    assert out['c'].status == 'failed' and out['c'].message.endswith('last line of the log')
    with pytest.raises(GSDDError, match='--engine nope'):
        make_engine('nope', str(tmp_path))
    with pytest.raises(GSDDError, match='--engine-option'):
        make_engine('local', None, {'slurm_partition': 'gpu'}, [None])


def test_slurm_engine_runs_jobs_and_fails_bad_input_once(slurm, tmp_path):
    """A real Slurm cluster: one job per call, a bad-input job is not retried, a crash comes back with its log."""
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the jobs import this module's functions
    calls = tmp_path / 'calls'
    engine = SlurmEngine(str(tmp_path / 'jobs'), {'timeout_min': 5}, poll=0.2)
    out = engine.run([('a', _square, (3, )), ('b', _bad_input, (str(calls), )), ('c', _crash, ())])
    assert out['a'].status == 'done' and out['a'].value[:2] == (9, None) and out['a'].value[2]  # in a Slurm job
    assert out['b'] == ('bad_input', None, 'datasets/x does not exist; pass --train-root')
    assert calls.read_text() == 'called\n'
    assert out['c'].status == 'failed' and 'last line of the log' in out['c'].message
    with pytest.raises(GSDDError, match='--engine-option'):
        SlurmEngine(str(tmp_path / 'jobs'), {'no_such_parameter': 1})
