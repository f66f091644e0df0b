"""Seed spread of the candidate design's probes (schedule study, Round 2).

``python benchmarks/shapes/probes/candidate_stats.py`` prints, from the
records ``c_<method>[_s<seed>]`` of ``benchmarks/shapes/schedule_probes.json``,
each run's AP on tune at 7000 iterations, its gain over the last fifth and,
for KD and LumiNet, the paired difference to the plain student per seed.
"""
import json
import os.path as osp
import sys

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, REPO)

from mmkd_det.analysis import stats  # noqa: E402

PROBES = osp.join(REPO, 'benchmarks', 'shapes', 'schedule_probes.json')
METHODS = ('student', 'kd', 'luminet')
SEEDS = (0, 1, 2)


def _probe_name(method: str, seed: int) -> str:
    return f'c_{method}' + ('' if seed == 0 else f'_s{seed}')


def main() -> None:
    with open(PROBES, encoding='utf-8') as f:
        records = {r['probe']: r for r in json.load(f)['runs']}
    ap, gain = {}, {}  # method -> {seed: AP (%)}, {seed: last-fifth gain}
    for method in METHODS:
        ap[method], gain[method] = {}, {}
        for seed in SEEDS:
            record = records.get(_probe_name(method, seed))
            if record is None or record['final_iter'] != 7000:
                continue
            ap[method][seed] = 100 * record['bbox_mAP']
            gain[method][seed] = 100 * stats.last_fifth_gain(
                record['ap_curve'])
    for method in METHODS:
        values = list(ap[method].values())
        line = (
            f'{method:8s} n={len(values)} AP '
            f'{" ".join(f"{v:.1f}" for v in values)} '
            f'mean {stats.format_summary(stats.summarize(values), scale=1)}  '
            'last-1/5 gain '
            f'{" ".join(f"{g:+.1f}" for g in gain[method].values())}')
        if method != 'student':
            deltas = list(
                stats.paired_deltas(ap[method], ap['student']).values())
            summary = stats.summarize(deltas)
            line += (f'  Δ vs student '
                     f'{" ".join(f"{d:+.1f}" for d in deltas)} mean '
                     f'{stats.format_summary(summary, scale=1, signed=True)} '
                     f'({summary.positive}/{summary.n} positive)')
        print(line)


if __name__ == '__main__':
    main()
