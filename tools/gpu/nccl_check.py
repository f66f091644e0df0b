"""Two processes, one GPU each, all-reduce over NCCL (device_check.py).

Exits 0 when the sum over the two ranks is right, 1 otherwise.
"""
import os
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, port: int) -> None:
    torch.cuda.set_device(rank)
    dist.init_process_group(
        'nccl', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    value = torch.full((4, ), float(rank + 1), device='cuda')
    dist.all_reduce(value)
    dist.destroy_process_group()
    if not torch.equal(value.cpu(), torch.full((4, ), 3.0)):
        raise RuntimeError(f'rank {rank}: all_reduce gave {value.tolist()}')


def main() -> int:
    if torch.cuda.device_count() < 2:
        print('needs 2 GPUs')
        return 1
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    os.environ.setdefault('NCCL_DEBUG', 'WARN')
    mp.spawn(_worker, args=(port, ), nprocs=2)
    print('NCCL all_reduce over 2 processes: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
