"""train_net.py's training flow in N processes, recording what each rank did: the clips it
read and its parameters before and after training, saved to ``OUT/rank<r>.pt``.

    python tests/engine/distributed_worker.py OUT --config-file ... --num-gpus 2 KEY VALUE ...

Run by tests/engine/test_distributed.py (a script, so that the spawned processes can import
``worker``).
"""
import os
import sys

import torch
from detectron2.engine import launch
from detectron2.utils import comm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
import train_net  # noqa: E402
from trackrcnn_d2 import register_all  # noqa: E402
from trackrcnn_d2.engine.train_net import setup  # noqa: E402
from trackrcnn_d2.engine.trainer import Trainer  # noqa: E402


class RecordingLoader:
    """The trainer's data loader, noting the frames (file names) of every batch it yields."""

    def __init__(self, loader):
        self.loader = loader
        self.batches = []

    def __iter__(self):
        for batch in self.loader:
            self.batches.append([frame["file_name"] for frame in batch])
            yield batch


def _parameters(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def worker(args, out):
    register_all()
    cfg = setup(args)
    trainer = Trainer(cfg)
    recording = RecordingLoader(trainer._trainer.data_loader)
    trainer._trainer.data_loader = recording
    trainer.resume_or_load(resume=False)
    initial = _parameters(trainer.model)
    trainer.train()
    torch.save(
        {"batches": recording.batches, "initial": initial, "final": _parameters(trainer.model)},
        os.path.join(out, f"rank{comm.get_rank()}.pt"),
    )


if __name__ == "__main__":
    out = sys.argv[1]
    args = train_net.parse_args(sys.argv[2:])
    launch(worker, args.num_gpus, dist_url=args.dist_url, args=(args, out))
