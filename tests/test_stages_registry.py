"""The stage registry and the one face of every stage (cxlab.stages): outputs written and read
through the registry, the record of parameters and input data, stale outputs refused."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import pytest

from cxlab import data, stages
from cxlab.errors import ParameterError
from conftest import log


@dataclass
class _Segments(stages.StageResult):
    stage: ClassVar[str] = "segmentation"
    table: pd.DataFrame = None

    def headlines(self):
        return [f"{len(self.table)} customers in {self.table.segment.nunique()} segments"]

    def metrics(self):
        return {"segments": int(self.table.segment.nunique())}

    def tables(self):
        return {"segments": self.table, "personas": None}


@stages.stage_analysis("segmentation")
def _analyze(study, *, k: int = 2, label: str = "seg"):
    ids = sorted(data.load(study, "customers").customer_id)
    table = pd.DataFrame({"customer_id": ids, "segment": [f"{label}{i % k}" for i in range(len(ids))]})
    return _Segments(study, table)


def _study(make_study, name="reg", extra=("c3", "2025-01-03 10:00", "ad"), **config):
    events = log(("c1", "2025-01-01 10:00", "ad"), ("c2", "2025-01-02 10:00", "buy", 5.0), extra)
    customers = pd.DataFrame({"customer_id": ["c1", "c2", extra[0]]})
    return make_study(name, events=events, customers=customers, **config)


def test_every_stage_is_registered_once_in_method_order_with_its_dependencies_before_it():
    names = stages.stage_names()
    assert names == ["intake", "objectives", "segmentation", "touchpoints", "pain_points", "impact", "journey_map"]
    for i, name in enumerate(names):
        spec = stages.STAGES[name]
        assert set(spec.depends) <= set(names[:i])
        assert spec.notebook.startswith(f"0{i}_")
    files = [o.file for s in stages.STAGES.values() for o in s.outputs]
    assert len(files) == len(set(files))  # no file written by two stages


def test_write_stores_outputs_and_a_record_of_parameters_and_input_data(make_study):
    folder = _study(make_study)
    result = _analyze(folder, k=3)
    written = result.write()
    study = result.study
    assert set(written) == {"segments"}
    assert stages.read_output(study, "segmentation", "segments").segment.tolist() == ["seg0", "seg1", "seg2"]
    record = stages.read_record(study, "segmentation")
    assert record["parameters"] == {"k": 3, "label": "seg"}
    assert record["inputs"] == data.clean_fingerprint(study) and record["inputs"]
    assert record["headlines"] == ["3 customers in 3 segments"] and record["metrics"] == {"segments": 3}
    assert record["outputs"] == {"segments": "segments.parquet"}
    assert stages.output_parameters(study, "segmentation")["k"] == 3
    # an output the result does not have is removed, so nothing stale is left for a reader
    study.processed("personas.parquet").write_bytes(b"old")
    result.write()
    assert not study.processed("personas.parquet").exists()
    assert stages.read_output(study, "segmentation", "personas") is None


def test_study_yaml_parameters_of_the_stage_apply_unless_the_call_says_otherwise(make_study):
    folder = _study(make_study, parameters={"segmentation": {"k": 1, "label": "grp"}})
    assert _analyze(folder).table.segment.unique().tolist() == ["grp0"]
    result = _analyze(folder, k=2)
    assert result.table.segment.tolist() == ["grp0", "grp1", "grp0"]
    assert result.parameters == {"k": 2, "label": "grp"}
    with pytest.raises(ParameterError, match="it takes: k, label"):
        _analyze(folder, clusters=2)


def test_an_output_made_from_other_input_data_is_refused_naming_the_stage_to_run_again(make_study):
    folder = _study(make_study)
    _analyze(folder).write()
    # the export changes (a new customer); the clean tables are rewritten from it
    folder = _study(make_study, extra=("c4", "2025-01-04 10:00", "ad"))
    study = data.ensure_clean(folder)
    with pytest.raises(stages.StaleOutputError, match=r"segmentation stage .* Run the segmentation stage again"):
        stages.read_output(study, "segmentation", "segments")
    _analyze(study).write()
    assert stages.read_output(study, "segmentation", "segments").customer_id.tolist() == ["c1", "c2", "c4"]


def test_an_unknown_output_or_stage_is_a_clear_error():
    with pytest.raises(ParameterError, match="writes no output 'segmentz'.*segments, personas, features"):
        stages.stage_spec("segmentation").output("segmentz")
    with pytest.raises(ParameterError, match="Unknown stage 'painpoints'"):
        stages.stage_spec("painpoints")


def test_the_record_is_plain_json(make_study):
    folder = _study(make_study)
    result = _analyze(folder, label="x")
    result.write()
    text = (result.study.processed_dir / "summary_segmentation.json").read_text()
    assert json.loads(text)["parameters"]["label"] == "x"


def test_a_bad_parameter_value_stops_a_run_before_anything_runs(make_study, capsys, project_home):
    """Before: -p conversion_window_days=-5 failed minutes into a run and left a report folder."""
    from cxlab.cli import main
    from cxlab.paths import reports_dir

    folder = _study(make_study)
    assert main(["run", str(folder), "-p", "conversion_window_days=-5"]) == 2
    err = capsys.readouterr().err
    assert ("parameter 'conversion_window_days' of stage 'objectives' must be a number of at least 0, got -5"
            in err) and "Traceback" not in err
    assert not reports_dir(folder).exists() or not any(reports_dir(folder).iterdir())
    assert main(["run", str(folder), "-p", "power=1.5", "-p", "touchpoints.funnel_mode=loose"]) == 2
    err = capsys.readouterr().err
    assert "'funnel_mode' of stage 'touchpoints' must be one of ordered, strict, any, got 'loose'" in err


def test_analyze_checks_parameter_values_by_the_same_rules(make_study):
    from cxlab import touchpoints

    folder = _study(make_study)
    with pytest.raises(ParameterError, match="'top_variants' of stage 'touchpoints' must be a number of at least 1"):
        touchpoints.analyze(folder, top_variants=0)
    assert set(stages.PARAMETER_RULES) >= {"conversion_window_days", "correction", "power", "funnel_mode"}


def test_a_metric_that_could_not_be_computed_is_recorded_as_null_not_a_number():
    import json
    import math

    from cxlab.stages import _missing_as_null

    metrics = {"rate": float("nan"), "n": 3, "nested": {"hi": math.inf, "lo": 0.25}, "list": [1.0, -math.inf]}
    plain = _missing_as_null(metrics)
    assert plain == {"rate": None, "n": 3, "nested": {"hi": None, "lo": 0.25}, "list": [1.0, None]}
    json.dumps(plain, allow_nan=False)  # what write_json demands
