"""``zoo list`` and ``zoo info``: registered components and their cards (no torch import)."""

from __future__ import annotations

import json
import sys

import click

from zoo.cli.output import fail, print_table


def _summary(info) -> str:
    card = info.card
    if card is None:
        return f"ERROR: {info.error}"
    if card.kind == "autoencoder":
        geo = f"{card.in_channels}ch -> {card.latent_channels}ch /{card.downsample_factor}"
        return f"{geo}  {','.join(card.modality)}  {card.license}"
    return card.description.split(". ")[0]


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--kind", "-k", type=click.Choice(["autoencoder", "denoiser", "sampler", "backend"]),
              help="Only this kind of component.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (cards included).")
def list_cmd(pattern: str | None, kind: str | None, as_json: bool) -> None:
    """List registered components, optionally matching a wildcard PATTERN (e.g. 'medvae-*').

    Failed plugins are listed with their error; they never stop the others from loading.
    """
    from zoo.registry import list_components

    try:
        infos = list_components(kind=kind, pattern=pattern)
    except Exception as err:  # strict plugin mode, duplicate names
        fail(str(err))
    if as_json:
        json.dump([i.to_dict() for i in infos], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    rows = []
    for i in infos:
        aliases = f" ({', '.join(i.card.aliases)})" if i.card and i.card.aliases else ""
        rows.append([i.kind, i.name + aliases, i.distribution, _summary(i)])
    if not rows:
        click.echo("no components match" + (f" {pattern!r}" if pattern else ""))
        return
    print_table(["kind", "name", "distribution", "summary"], rows)
    broken = sum(1 for i in infos if not i.ok)
    if broken:
        click.echo(f"\n{broken} plugin(s) failed to load; see `zoo env` (ZOO_STRICT_PLUGINS=1 to raise)", err=True)


@click.command("info")
@click.argument("name")
@click.option("--kind", "-k", type=click.Choice(["autoencoder", "denoiser", "sampler", "backend"]),
              help="Kind of component, when a name exists in several kinds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(name: str, kind: str | None, as_json: bool) -> None:
    """Show the card of component NAME (name, alias or distribution:name)."""
    from zoo.registry import GROUPS, UnknownComponentError, resolve

    found, errors = [], []
    for k in [kind] if kind else list(GROUPS):
        try:
            found.append(resolve(k, name))
        except UnknownComponentError as err:
            errors.append(str(err))
        except Exception as err:
            fail(str(err))
    if not found:
        fail(errors[0] if len(errors) == 1 else f"no component named {name!r} (see `zoo list`)")
    if len(found) > 1:
        fail(f"{name!r} names several kinds ({', '.join(i.kind for i in found)}); add --kind")
    info = found[0]
    data = info.to_dict()
    data.update(_details(info))
    if as_json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    card = data.pop("card")
    for key in ("kind", "name", "distribution", "version"):
        click.echo(f"{key:>18}: {data.pop(key)}")
    for key, value in card.items():
        if key in ("kind", "name") or value in ((), [], {}, None, ""):
            continue
        key = "card_version" if key == "version" else key
        if isinstance(value, dict):
            click.echo(f"{key:>18}:")
            for k, v in value.items():
                click.echo(f"{'':>20}{k}: {v}")
        else:
            click.echo(f"{key:>18}: {value}")
    for key, value in data.items():
        if key not in ("entry_point", "error") and value is not None:
            click.echo(f"{key:>18}: {value}")


def _details(info) -> dict:
    """Extra facts that need the component's code (parameter count, weight status) and the install line."""
    from zoo.autoencoders.describe import describe_autoencoder, describe_denoiser
    from zoo.registry import LOCAL_DISTRIBUTION, Provider

    details = {"autoencoder": describe_autoencoder, "denoiser": describe_denoiser}.get(info.kind)
    out = details(info.card) if details is not None else {}
    if info.distribution not in ("zoo", LOCAL_DISTRIBUTION, "unknown"):
        out["install"] = Provider(info.distribution, info.version).pip_install
    return out
