"""Seed spread of the candidate design's probes (schedule study, Round 2).

``python benchmarks/shapes/probes/candidate_stats.py`` prints, from the
records ``c_<method>[_s<seed>]`` of ``benchmarks/shapes/schedule_probes.json``,
each run's AP on tune at 7000 iterations, its gain over the last fifth and,
for KD and LumiNet, the paired difference to the plain student per seed.
"""
import json
import os.path as osp
import statistics

PROBES = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'schedule_probes.json')
METHODS = ('student', 'kd', 'luminet')
SEEDS = (0, 1, 2)


def _probe_name(method: str, seed: int) -> str:
    return f'c_{method}' + ('' if seed == 0 else f'_s{seed}')


def _mean_std(values, signed: bool = False) -> str:
    text = f'mean {statistics.mean(values):{"+" if signed else ""}.2f}'
    return text + (f' ± {statistics.stdev(values):.2f}'
                   if len(values) > 1 else '')


def main() -> None:
    with open(PROBES, encoding='utf-8') as f:
        records = {r['probe']: r for r in json.load(f)['runs']}
    ap, gain = {}, {}
    for method in METHODS:
        for seed in SEEDS:
            record = records.get(_probe_name(method, seed))
            if record is None or record['final_iter'] != 7000:
                continue
            curve = {int(i): 100 * v for i, v in record['ap_curve']}
            ap[method, seed] = 100 * record['bbox_mAP']
            gain[method, seed] = curve[7000] - curve[5600]
    for method in METHODS:
        seeds = [s for s in SEEDS if (method, s) in ap]
        values = [ap[method, s] for s in seeds]
        line = (f'{method:8s} n={len(values)} AP '
                f'{" ".join(f"{v:.1f}" for v in values)} '
                f'{_mean_std(values)}  last-1/5 gain '
                f'{" ".join(f"{gain[method, s]:+.1f}" for s in seeds)}')
        if method != 'student':
            deltas = [
                ap[method, s] - ap['student', s] for s in seeds
                if ('student', s) in ap
            ]
            line += (f'  Δ vs student '
                     f'{" ".join(f"{d:+.1f}" for d in deltas)} '
                     f'{_mean_std(deltas, signed=True)}'
                     f' ({sum(d > 0 for d in deltas)}/{len(deltas)} '
                     'positive)')
        print(line)


if __name__ == '__main__':
    main()
