"""torchrun environment detection, and a real 2-process gloo run on the CPU with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seefood.errors import ConfigError
from seefood.train.distributed import DistEnv, detect

WORKER = textwrap.dedent(
    """
    import hashlib, json, os, sys
    from pathlib import Path
    import torch
    from seefood.train import train
    from seefood.train.config import TrainConfig

    data, out, hashes = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    rank = int(os.environ["RANK"])

    def fingerprint(event):
        if event.kind == "epoch":  # weights right after the last epoch, before best/ is reloaded for testing
            digest = hashlib.sha256()
            for name, tensor in sorted(event.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            (hashes / f"rank{rank}.json").write_text(json.dumps({"epoch": event.epoch, "sha256": digest.hexdigest(),
                                                                  "val_top1": event.metrics["val_top1"]}))

    config = TrainConfig(model="tiny", weights="none", data=data, image_size=32, epochs=2, batch_size=8, lr=3e-3,
                         val_fraction=0.2, workers=0, threads=1, device="cpu", patience=None, out=out)
    result = train(config, callbacks=[fingerprint], show_progress=False)
    (hashes / f"result{rank}.json").write_text(json.dumps({"test_top1": result.test_top1,
                                                           "epochs": result.epochs_run}))
    """
)


def test_detect_reads_the_torchrun_environment() -> None:
    assert detect({}) == DistEnv(0, 1, 0) and not detect({}).enabled
    env = detect({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert env == DistEnv(rank=3, world_size=4, local_rank=1) and env.enabled and not env.is_main
    with pytest.raises(ConfigError, match="torchrun"):
        detect({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ConfigError, match="integers"):
        detect({"WORLD_SIZE": "two"})


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path: Path, tiny_data: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    hashes = tmp_path / "hashes"
    hashes.mkdir()
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           str(script), str(tiny_data), str(out), str(hashes)]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((hashes / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["epoch"] == ranks[1]["epoch"] == 2
    assert ranks[0]["sha256"] == ranks[1]["sha256"]
    assert ranks[0]["val_top1"] == ranks[1]["val_top1"]  # metrics are all-reduced, not per shard
    results = [json.loads((hashes / f"result{r}.json").read_text()) for r in (0, 1)]
    assert results[0] == results[1] and results[0]["epochs"] == 2
    # only rank 0 wrote the run folder, and it is complete
    assert (out / "best" / "meta.json").is_file() and (out / "last" / "train_state.json").is_file()
    assert len(list((out / "tb").glob("events.out.tfevents.*"))) == 1
    report = json.loads((out / "test" / "eval.json").read_text())
    assert report["count"] == 20 and report["top1"] == results[0]["test_top1"]
