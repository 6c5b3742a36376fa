"""One line per stage on stderr and in the log; live bars only on a terminal or in Jupyter."""

from __future__ import annotations

import io
import logging

from unite_stan.progress import LOGGER, report, show_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_report_prints_and_logs_one_line(capsys, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        report("compile", "Compiling Stan program 0123 (embedded backend)…")
    assert capsys.readouterr().err == (
        "unite_stan [compile] Compiling Stan program 0123 (embedded backend)…\n"
    )
    (record,) = caplog.records
    assert record.name == LOGGER and record.levelno == logging.INFO
    assert record.getMessage() == "Compiling Stan program 0123 (embedded backend)…"
    assert record.stage == "compile"


def test_bars_only_when_wanted_and_on_a_terminal():
    assert show_bar(True, Terminal())
    assert not show_bar(False, Terminal())
    assert not show_bar(True, io.StringIO())  # a log file, a batch job, CI


def test_bars_in_a_jupyter_kernel_whose_stream_is_not_a_tty():
    stream_type = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    assert show_bar(True, stream_type())
    assert not show_bar(False, stream_type())


def test_streams_without_isatty_or_closed_get_no_bar():
    closed = io.StringIO()
    closed.close()
    assert not show_bar(True, closed)
    assert not show_bar(True, object())


def test_default_stream_is_stderr(capsys):
    assert not show_bar(True)  # pytest captures stderr into a file
