"""A saved pipeline names the distributions its plugin components come from (zoo_pipeline.json, model card),
and opening it without them fails in one line naming the one to install."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from tests.foundation.conftest import run_python, zoo_cli

SAVE = """
import zoo
pipe = zoo.build_pipeline(vae="example-conv-ae", denoiser="example-resnet", sampler="euler-ancestral",
                          steps=2, scale=2, hr_size=64, pretrained_denoiser=False)
pipe.save_pretrained({folder!r})
"""


@pytest.fixture(scope="module")
def saved(guide_site, tmp_path_factory):
    folder = tmp_path_factory.mktemp("req") / "pipe"
    out = run_python(SAVE.format(folder=str(folder)), guide_site)
    assert out.returncode == 0, out.stderr
    return folder


def test_saved_pipeline_records_each_components_distribution(saved):
    data = json.loads((saved / "zoo_pipeline.json").read_text())
    assert {k: (data[k]["distribution"], data[k]["distribution_version"]) for k in ("vae", "denoiser", "sampler")} \
        == {"vae": ("zoo-example-ae", "0.1.0"), "denoiser": ("zoo-example-denoiser", "0.1.0"),
            "sampler": ("zoo-example-sampler", "0.1.0")}


def test_model_card_says_what_to_install(saved):
    text = (saved / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])["zoo"]
    assert meta["requirements"] == ["zoo-example-ae==0.1.0", "zoo-example-denoiser==0.1.0",
                                    "zoo-example-sampler==0.1.0"]
    assert meta["components"]["denoiser"]["distribution"] == "zoo-example-denoiser"
    assert "## Requirements" in text
    assert "'zoo-example-ae==0.1.0' 'zoo-example-denoiser==0.1.0' 'zoo-example-sampler==0.1.0'" in text


def test_opening_it_without_the_plugins_names_the_distribution(saved, tmp_path):
    np.save(tmp_path / "lr.npy", np.zeros((32, 32), np.float32))
    out = zoo_cli(["sr", str(tmp_path / "lr.npy"), "--pipeline", str(saved), "--out", str(tmp_path / "sr")])
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "vae/zoo_autoencoder.json: component.name: no autoencoder named 'example-conv-ae' is installed" in lines[0]
    assert "it comes from zoo-example-ae 0.1.0: pip install 'zoo-example-ae==0.1.0'" in lines[0]
    assert not (tmp_path / "sr").exists()


def test_built_in_components_record_zoo_and_need_no_requirement(tmp_path):
    import zoo
    from tests.pipeline.conftest import tiny_pipeline
    from zoo.pipeline.model_card import front_matter

    tiny_pipeline("medvae-4-3", "resconv", "ddim").save_pretrained(tmp_path / "p")
    data = json.loads((tmp_path / "p" / "zoo_pipeline.json").read_text())
    assert (data["denoiser"]["distribution"], data["denoiser"]["distribution_version"]) == ("zoo", zoo.__version__)
    assert front_matter((tmp_path / "p" / "README.md").read_text())["zoo"]["requirements"] == []


def test_a_folder_naming_an_odd_distribution_is_refused(tmp_path):
    import zoo
    from tests.pipeline.conftest import tiny_pipeline

    tiny_pipeline("medvae-4-3", "resconv", "ddim").save_pretrained(tmp_path / "p")
    file = tmp_path / "p" / "zoo_pipeline.json"
    data = json.loads(file.read_text())
    data["sampler"]["distribution"] = "x --index-url https://evil.example"
    file.write_text(json.dumps(data))
    with pytest.raises(zoo.errors.ZooError, match="sampler.distribution"):
        zoo.load_pipeline(tmp_path / "p")


def test_an_export_records_its_samplers_distribution(guide_site):
    code = """
import json, zoo
from zoo_export.options import RECORD_SCHEMA, pipeline_record
from zoo.folders.schema import validate
pipe = zoo.build_pipeline(vae="example-conv-ae", denoiser="example-resnet", sampler="euler-ancestral",
                          steps=2, scale=2, hr_size=64, pretrained_denoiser=False)
record = json.loads(json.dumps(pipeline_record(pipe)))
validate(record, RECORD_SCHEMA, "pipeline.json")
print(json.dumps(record["sampler"]))
"""
    out = run_python(code, guide_site)
    assert out.returncode == 0, out.stderr
    sampler = json.loads(out.stdout.strip().splitlines()[-1])
    assert (sampler["distribution"], sampler["distribution_version"]) == ("zoo-example-sampler", "0.1.0")


def test_zoo_info_gives_a_plugins_install_line(guide_site):
    out = zoo_cli(["info", "example-resnet", "--json"], guide_site)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["install"] == "pip install 'zoo-example-denoiser==0.1.0'" and "weight_status" in data


def test_a_missing_denoiser_names_its_recorded_distribution(tmp_path):
    import zoo
    from tests.pipeline.conftest import tiny_pipeline

    tiny_pipeline("medvae-4-3", "resconv", "ddim").save_pretrained(tmp_path / "p")
    file = tmp_path / "p" / "zoo_pipeline.json"
    data = json.loads(file.read_text())
    data["denoiser"].update(name="gone-denoiser", distribution="zoo-gone", distribution_version="1.2")
    file.write_text(json.dumps(data))
    with pytest.raises(zoo.registry.UnknownComponentError) as err:
        zoo.load_pipeline(tmp_path / "p")
    message = str(err.value)
    assert "denoiser.name: no denoiser named 'gone-denoiser' is installed" in message and "\n" not in message
    assert message.endswith("it comes from zoo-gone 1.2: pip install 'zoo-gone==1.2'")
