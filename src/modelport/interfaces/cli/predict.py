"""``modelport predict``: score a CSV/Parquet file with a registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.config import DEFAULT_RUNTIME
from modelport.interfaces.cli.render import RUNTIME_HELP, console, table


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


def predict(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    input: Annotated[str, typer.Option("--input", "-i", help="CSV/Parquet file or bundled set.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write predictions here (.csv or .parquet).")] = None,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = DEFAULT_RUNTIME,
    limit: Annotated[int, typer.Option(help="Rows to show when not writing a file.")] = 10,
) -> None:
    """Predict every row of a file and show or write the results."""
    import pandas as pd

    from modelport.errors import InvalidInputError
    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.loading import load

    predictor = load(ref, runtime=runtime)
    frame = load_dataset(input).frame
    outputs = predictor.predict_outputs(frame)
    result = pd.DataFrame({"prediction": outputs["prediction"]})
    if "probabilities" in outputs and predictor.classes is not None:
        for j, label in enumerate(predictor.classes):
            result[f"proba_{label}"] = outputs["probabilities"][:, j]
    if output is None:
        table(f"{predictor.name}:{predictor.version} ({predictor.runtime})",
              list(result.columns), result.head(limit).itertuples(index=False))
        return
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InvalidInputError(f"cannot write {output}: use a .csv or .parquet file name")
    result.to_csv(output, index=False) if suffix == ".csv" else result.to_parquet(output)
    console.print(f"wrote {len(result):,} predictions to {output}")
