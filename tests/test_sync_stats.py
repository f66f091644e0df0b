"""Cross-rank perception statistics: 2 gloo processes vs one process.

DDP semantics: each rank's loss is a mean over its LOCAL RoIs, gradients are
averaged over ranks. With equal RoI counts, the rank-mean of the losses is the
single-process loss on the concatenated batch, and rank-local grad /
world_size is the single-process grad of that slice. With unequal counts
(including an empty rank) the statistics are still the global ones; a 'sum'
reduction then gives the global sum and exactly the single-process grads.
"""
import os
from unittest import mock

import pytest
import torch
from conftest import free_port, gloo_group, on_cuda, run_ranks

from mmkd_det.models.losses import LogitKDLoss, perception

WORLD = 2
T = 2.0
SPLITS = {'uneq': (3, 5), 'empty': (8, 0)}


def _run(student, teacher, reduction):
    s = student.clone().requires_grad_()
    loss = LogitKDLoss(
        'perception', temperature=T, sync_stats=True,
        reduction=reduction)(s, teacher)
    loss.backward()
    return loss.detach(), s.grad


def _worker(rank, port, out_dir, s_all, t_all):
    with gloo_group(rank, WORLD, port, timeout_s=30):
        res = {}
        half = s_all.shape[0] // WORLD
        sl = slice(rank * half, (rank + 1) * half)
        res['eq'] = _run(s_all[sl], t_all[sl], 'mean')
        for name, split in SPLITS.items():
            lo = sum(split[:rank])
            sl = slice(lo, lo + split[rank])
            res[name] = _run(s_all[sl], t_all[sl], 'sum')
            res[name + '_h'] = perception(s_all[sl], sync_stats=True)
        torch.save(res, os.path.join(out_dir, f'rank{rank}.pt'))


def _single(student, teacher, reduction):
    s = student.clone().requires_grad_()
    loss = LogitKDLoss(
        'perception', temperature=T, reduction=reduction)(s, teacher)
    loss.backward()
    return loss.detach(), s.grad


@pytest.mark.dist
def test_two_gloo_ranks_match_single_process(tmp_path):
    g = torch.Generator().manual_seed(0)
    s_all = torch.randn(8, 6, generator=g) * 3 + torch.arange(6.)
    t_all = torch.randn(8, 6, generator=g) * 2
    run_ranks(
        _worker,
        args=(free_port(), str(tmp_path), s_all, t_all),
        nprocs=WORLD,
        timeout_s=90)
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD)]

    # Equal halves, 'mean' per rank: rank-mean == global batchmean and
    # local grad / world == single-process grad.
    ref_loss, ref_grad = _single(s_all, t_all, 'mean')
    loss_mean = sum(r['eq'][0] for r in ranks) / WORLD
    torch.testing.assert_close(loss_mean, ref_loss)
    grads = torch.cat([r['eq'][1] for r in ranks]) / WORLD
    torch.testing.assert_close(grads, ref_grad)
    # Local statistics would NOT match (guards against a silent fallback).
    local = sum(
        _single(s_all[i * 4:(i + 1) * 4], t_all[i * 4:(i + 1) * 4], 'mean')[0]
        for i in range(WORLD)) / WORLD
    assert not torch.allclose(local, ref_loss)

    # Unequal / empty ranks: global statistics, 'sum' matches exactly.
    ref_loss, ref_grad = _single(s_all, t_all, 'sum')
    ref_h = perception(s_all)
    for name in SPLITS:
        torch.testing.assert_close(sum(r[name][0] for r in ranks), ref_loss)
        torch.testing.assert_close(
            torch.cat([r[name][1] for r in ranks]), ref_grad)
        torch.testing.assert_close(
            torch.cat([r[name + '_h'] for r in ranks]), ref_h)
    assert ranks[1]['empty'][1].shape == (0, 6)


def _one_rank_worker(rank, port, out_dir, backend, device):
    from mmkd_det.models.losses import logit_norm
    reduce = logit_norm._all_reduce_sum
    with gloo_group(rank, 1, port, timeout_s=60, backend=backend), \
            mock.patch.object(logit_norm, '_dist_world_size',
                              lambda group=None: 2), \
            mock.patch.object(logit_norm, '_all_reduce_sum',
                              side_effect=reduce) as all_reduce:
        g = torch.Generator().manual_seed(1)
        s = (torch.randn(8, 6, generator=g) * 3).to(device)
        t = torch.randn(8, 6, generator=g).to(device)
        synced = _run(s, t, 'mean') + (perception(s, sync_stats=True), )
        calls = all_reduce.call_count
        local = _single(s, t, 'mean') + (perception(s), )
        torch.save(
            {
                'synced': [x.cpu() for x in synced],
                'local': [x.cpu() for x in local],
                'backend': torch.distributed.get_backend(),
                'device': str(synced[0].device),
                'all_reduces': calls
            }, os.path.join(out_dir, 'rank0.pt'))


@pytest.mark.dist
@pytest.mark.parametrize(
    'backend, device',
    [('gloo', 'cpu'), on_cuda('nccl', 'cuda')])
def test_one_rank_group_matches_no_group(backend, device, tmp_path):
    """sync_stats through a real one-rank process group (NCCL on a GPU).

    At world size 1 the product takes local statistics; the test makes it
    believe in 2 ranks so that its two differentiable all-reduces run
    through the backend (forward and backward). Summed over one rank they
    change nothing: loss, gradient and normalised logits equal the local
    ones."""
    run_ranks(
        _one_rank_worker,
        args=(free_port(), str(tmp_path), backend, device),
        nprocs=1,
        timeout_s=120)
    out = torch.load(tmp_path / 'rank0.pt')
    assert out['backend'] == backend and out['device'].startswith(device)
    # 2 per perception(): student and teacher in the loss, then the direct one
    assert out['all_reduces'] == 6
    for synced, local in zip(out['synced'], out['local']):
        torch.testing.assert_close(synced, local)
