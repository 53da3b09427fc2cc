"""What counts as a reported figure of a results.json summary, decided here and not by the code
under test: every number (or None) at the top level except counts (``num_*``), every figure name
inside a group table (``per_action``, ``per_sequence``, ...), and every per-joint table."""

SCALE_RULES = {"bone_sum_4000", "gt_bones", "least_squares", "none", "as_given"}
DEFINITION_FIELDS = ("joints", "alignment", "units", "split", "samples", "reference", "matches", "title")


def reported_figures(summary):
    figures = set()
    for key, value in summary.items():
        if key == "protocols" or key.startswith("num_") or isinstance(value, (str, bool, list)):
            continue
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            figures |= {name for group in value.values() for name in group if not name.startswith("num_")}
        else:
            figures.add(key)
    return figures


def assert_every_figure_has_its_protocol(summary):
    """``summary["protocols"]`` names exactly the reported figures, each with a full definition."""
    assert set(summary["protocols"]) == reported_figures(summary), set(summary["protocols"]) ^ reported_figures(summary)
    for name, entry in summary["protocols"].items():
        assert entry["scale"] in SCALE_RULES, name
        assert all(entry[field] for field in DEFINITION_FIELDS), name
        assert entry["frame_step"] is None or entry["frame_step"] >= 1, name
