"""The report's sections, one module per theme, each computed from the results document alone:
a title, paragraphs and a table drawn from a list of columns (compare.report.columns).
compare.report.render writes them as Markdown and HTML.
"""

from __future__ import annotations

from compare.report import statistics
from compare.report.sections.anatomy import anatomy_sections
from compare.report.sections.common import Section, finished_runs
from compare.report.sections.compilation import compilation_section, data_path_section
from compare.report.sections.data_parallel import data_parallel_section
from compare.report.sections.lessons import differences_sections, parity_section
from compare.report.sections.placement import environment_section, placement_section
from compare.report.sections.regularization import regularization_section, regularized_runs
from compare.report.sections.runs import history_section, parameters_section, problems_section, summary_section
from compare.report.sections.serving import serving_sections
from compare.report.sections.timing import phases_section, time_to_target_section, timing_section
from compare.report.sections.verdict import repeats_section, verdict_section


def sections(document: dict) -> list[Section]:
    """Every section of the report, in order. The statistics over repeats are read from `document`,
    filled in first where it lacks them (statistics.complete: the one place they are computed)."""
    statistics.complete(document)
    lessons = [time_to_target_section(document), regularization_section(document), data_parallel_section(document)]
    return [
        verdict_section(document),
        environment_section(document),
        summary_section(document),
        *filter(None, [repeats_section(document)]),
        *anatomy_sections(document),
        *serving_sections(document),
        *filter(None, lessons),
        parameters_section(document),
        history_section(document),
        timing_section(document),
        phases_section(document),
        *filter(None, [compilation_section(document), placement_section(document)]),
        data_path_section(document),
        problems_section(document),
        parity_section(document),
        *differences_sections(document),
    ]


__all__ = [
    "Section",
    "differences_sections",
    "finished_runs",
    "parity_section",
    "regularization_section",
    "regularized_runs",
    "sections",
    "serving_sections",
    "summary_section",
    "verdict_section",
]
