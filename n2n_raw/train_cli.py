"""``n2n-raw train``: flags generated from :class:`n2n_raw.train_config.TrainConfig`."""

from __future__ import annotations

import argparse
import json

from .config import add_arguments, from_arguments
from .train import train
from .train_config import TrainConfig


def train_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, TrainConfig)


def train_command(args: argparse.Namespace) -> int:
    summary = train(from_arguments(TrainConfig, args))
    print(json.dumps(summary, indent=2))
    return 0
