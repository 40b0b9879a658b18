"""Collects results and renders them as one Markdown document."""

import datetime
import os
import platform

from quiltbench import common


class Results:
    """Rows grouped in sections; each section may name the row its ratios are relative to."""

    def __init__(self):
        self.sections = []  # (title, reference label or None, higher_is_better, rows)
        self.notes = []
        self.targets = []
        # Where what is added next goes in the report: benchmarks run in another order than
        # they are reported in.
        self.rank = 0
        self._section_ranks = []
        self._target_ranks = []

    def section(self, title, reference=None, higher_is_better=False):
        rows = []
        self.sections.append((title, reference, higher_is_better, rows))
        self._section_ranks.append(self.rank)
        return rows

    def note(self, text):
        self.notes.append(text)

    def target(self, goal, measured, met):
        self.targets.append((goal, measured, "yes" if met else "**no**"))
        self._target_ranks.append(self.rank)

    def mark(self):
        """How much has been added, for rollback."""
        return len(self.sections), len(self.targets)

    def rollback(self, mark):
        """Drops what was added since `mark`."""
        sections, targets = mark
        del self.sections[sections:], self._section_ranks[sections:]
        del self.targets[targets:], self._target_ranks[targets:]

    def in_report_order(self):
        """(sections, targets), each ordered by rank, then as added."""
        def ordered(items, ranks):
            return [item for _, _, item in sorted(zip(ranks, range(len(items)), items))]
        return (ordered(self.sections, self._section_ranks),
                ordered(self.targets, self._target_ranks))


def add(rows, label, sample, detail="", comparable=True, reference=None):
    """Adds a measured row: label, Sample, free-text detail. `comparable` rows get a ratio to
    the section's reference row, or to the row labelled `reference` when given."""
    rows.append((label, sample, detail, reference if reference else comparable))


def _cell(text):
    """Table-safe text: a literal | would end the Markdown cell."""
    return str(text).replace("|", "\\|")


def _fmt(value):
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(sample, reference):
    if reference is None or reference is sample or reference.median == 0:
        return "1.00x" if reference is sample else ""
    return f"{sample.median / reference.median:.2f}x"


def render_sections(sections):
    out = []
    for title, reference_label, higher, rows in sections:
        by_label = {label: s for label, s, _, _ in rows}
        reference = by_label.get(reference_label)
        base = f"ratio to {reference_label}" if reference_label else "ratio to its reference row"
        out.append(f"\n### {title}\n")
        direction = "higher is better" if higher else "lower is better"
        out.append(f"| what | median | worst (p99; p1 of rates) | unit | n | {base} "
                   f"({direction}) | detail |")
        out.append("|---|---:|---:|---|---:|---:|---|")
        for label, sample, detail, comparable in rows:
            # The tail that matters is the slow end: high times and sizes, low rates.
            rate = sample.unit.endswith("/s")
            worst = common.percentile(sample.values, 0.01 if rate else 0.99)
            if isinstance(comparable, str):
                ratio = _ratio(sample, by_label[comparable])
            else:
                ratio = _ratio(sample, reference) if comparable else ""
            out.append(f"| {_cell(label)} | {_fmt(sample.median)} | {_fmt(worst)} | "
                       f"{sample.unit} | {sample.n} | {ratio} | {_cell(detail)} |")
    return "\n".join(out)


def machine_facts(version):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = common.read_kv("/proc/meminfo")["MemTotal"] // 1024
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return [
        f"- nproc: {os.cpu_count()}, CPU: {cpu}, memory: {mem} MiB",
        f"- kernel: {platform.release()}, cgroup mode (quiltd): {version.cgroup_mode}",
        f"- load average at the end: {load} (other work on the machine shows up here)",
        f"- quiltd {version.version}; {common.command_output(['crun', '--version'])}; "
        f"{common.command_output(['runc', '--version'])}; "
        f"{common.command_output(['bsdtar', '--version'])}",
    ]


def render(results, version, command, elapsed_s):
    """The whole Markdown report."""
    lines = [
        "# Quilt benchmark results", "",
        f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} in {elapsed_s:.0f} s with:",
        "", "```sh", command, "```", "", *machine_facts(version), ""
    ]
    sections, targets = results.in_report_order()
    if targets:
        lines += ["## Targets (issue 7)", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {_cell(g)} | {_cell(m)} | {ok} |" for g, m, ok in targets]
        lines.append("")
    lines += ["## Measurements", render_sections(sections), ""]
    if results.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in results.notes] + [""]
    return "\n".join(lines)
