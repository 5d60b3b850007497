"""``invimg models``: what is shipped, for which task, how big, how good."""

from __future__ import annotations

import typer

from ..zoo.cards import scan_shipped
from .cli import app
from .common import user_errors


@app.command("models")
@user_errors
def models_command() -> None:
    """List the shipped pretrained models: name, task, size and measured metrics.

    A broken card is reported as one ``warning:`` line and the rest are listed.
    """
    cards, broken = scan_shipped()
    for problem in broken:
        typer.echo(f"warning: {problem}", err=True)
    if not cards:
        typer.echo("no models shipped")
        return
    typer.echo(f"{'name':<16} {'task':<11} {'params':>9} {'size':>8}  metrics")
    for card in cards:
        params = card.data.get("parameters", 0)
        size = card.data.get("size_bytes", 0) / 2**20
        values = card.metrics.get("values", {})
        shown = ", ".join(f"{k} {v:.2f}" for k, v in list(values.items())[:4])
        typer.echo(f"{card.name:<16} {card.task:<11} {params:>9,} {size:>6.1f}MB  {shown}")
