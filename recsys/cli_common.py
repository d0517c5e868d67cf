"""Options and helpers shared by the CLI commands: training settings, finite numbers, the
database and model store of the app."""

from __future__ import annotations

import math

import click
from flask import current_app

_settings_options = [
    click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                 help="Training settings YAML (default: RECSYS_TRAIN_CONFIG, data/train.yaml)."),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                 help="Override one setting, e.g. --set epochs=5 (repeatable)."),
]


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` (which passes every range test) and
    ``inf``: ``--holdout nan`` used to train and write a bundle before failing."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def settings_options(func):
    for option in reversed(_settings_options):
        func = option(func)
    return func


def load_settings(config_path: str | None, overrides: tuple[str, ...]):
    """Settings from the YAML file plus overrides; errors become click errors."""
    import yaml

    from recsys.ml.settings import TrainSettings

    path = config_path or current_app.config["TRAIN_CONFIG"]
    try:
        return TrainSettings.from_yaml(path, overrides=overrides)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{path}: training config not found") from exc
    except OSError as exc:  # a directory, no permission
        raise click.ClickException(f"{path}: cannot read the training config: "
                                   f"{exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    except RecursionError:
        raise click.ClickException(f"{path}: invalid YAML: nested too deeply") from None
    except UnicodeDecodeError:  # a ValueError: not to be blamed on --set below
        raise click.ClickException(f"{path}: invalid YAML: not UTF-8 text") from None
    except ValueError as exc:
        raise click.ClickException(str(exc) if str(exc).startswith(str(path)) else
                                   f"{path} + --set: {exc}") from exc


def yaml_error(path, exc) -> click.ClickException:
    """``FILE:LINE: invalid YAML: problem`` on one line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    return click.ClickException(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}")


def require_schema(allow_older: bool = False) -> None:
    """Stop with the upgrade advice (not an SQL error an hour into a job) when the database's
    schema is not the code's (``allow_older``: or an older revision); an unreachable database
    is left to fail on its own terms."""
    from recsys.db.migrate import check_schema

    try:
        check_schema(current_app.config["DATABASE_URL"], allow_older=allow_older)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def engine_and_store(allow_older: bool = False):
    """The app's database engine and model store (inside an app context), after
    :func:`require_schema`."""
    from recsys.extensions import db
    from recsys.index.store import ModelStore

    require_schema(allow_older)
    return db.engine, ModelStore(current_app.config["MODEL_DIR"])
