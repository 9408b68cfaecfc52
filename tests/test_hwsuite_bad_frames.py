"""The hardware suite's bad-frame exchange on a noisy line (tests/hw/test_board.py::raw_exchange), against a
scripted client: a reply damaged on the way, or a request damaged into another error, is tried again; a whole
reply that is wrong is reported as it came, never retried into a pass."""

import pytest

from tinyrnn.host.link import spec
from tinyrnn.host.link.framing import Frame
from tinyrnn.hwtests.test_board import TRIES, raw_exchange

pytestmark = pytest.mark.fast
ERR = spec.ERRORS


def error(name):
    return Frame(spec.PROTOCOL_VERSION, spec.ERROR, 0, bytes([ERR[name], 0, 0, 0]))


class ScriptedClient:
    """Answers each try's first read with the next scripted frame (None: only damaged bytes or silence)."""

    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def send_raw(self, data):
        self.sent.append(data)

    def read_frame(self, timeout=None, request_id=None, stop_on_garbage=False):
        if timeout is not None:          # draining the rest of a damaged exchange
            return None
        return self.answers.pop(0) if self.answers else None


class Board:
    def __init__(self, answers):
        self.client = ScriptedClient(answers)


def bad_frame(board):
    return b"\x05\x01\x02\x03\x04\x00"


def test_a_damaged_reply_is_tried_again():
    board = Board([None, error("UNKNOWN_COMMAND")])
    assert raw_exchange(board, bad_frame, ERR["UNKNOWN_COMMAND"]) == ERR["UNKNOWN_COMMAND"]
    assert len(board.client.sent) == 2


def test_a_request_damaged_on_the_way_is_tried_again():
    board = Board([error("BAD_CRC"), error("BAD_FRAME"), error("UNKNOWN_COMMAND")])
    assert raw_exchange(board, bad_frame, ERR["UNKNOWN_COMMAND"]) == ERR["UNKNOWN_COMMAND"]
    assert len(board.client.sent) == 3


def test_a_whole_wrong_answer_is_reported_not_retried():
    board = Board([error("BAD_PAYLOAD"), error("UNKNOWN_COMMAND")])
    assert raw_exchange(board, bad_frame, ERR["UNKNOWN_COMMAND"]) == ERR["BAD_PAYLOAD"]
    assert len(board.client.sent) == 1


def test_the_expected_damage_error_is_taken_at_once():
    board = Board([error("BAD_CRC")])
    assert raw_exchange(board, bad_frame, ERR["BAD_CRC"]) == ERR["BAD_CRC"]


def test_a_silent_board_fails_after_the_tries():
    board = Board([])
    with pytest.raises(pytest.fail.Exception, match="no undamaged answer"):
        raw_exchange(board, bad_frame, ERR["BAD_CRC"])
    assert len(board.client.sent) == TRIES
