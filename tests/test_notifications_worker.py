"""The delivery worker (run_delivery_worker) outlives its faults like the SLA worker: its
database stopped and started under it (a PostgreSQL cluster of the test's own) and a
Redis it cannot reach; it delivers e-mail to a real SMTP server and webhooks to a local
receiver before and after."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User

from exchange.models import Webhook
from layers.models import Area, Unit
from tests.loop import act, report, set_up_loop
from tests.pgcluster import own_postgres, wait_for
from tests.servers import ROOT, free_port
from tests.test_exchange import Receiver, receiver  # noqa: F401 (fixture)
from tests.test_notifications import Mailbox

MESSAGE = """INSERT INTO notifications_message
    (transport, "to", subject, body, state, attempts, next_attempt_at, last_error, created_at)
    VALUES ('email', 'later@example.org', '恢复后', '数据库恢复后的消息', 'pending', 0,
            now(), '', now())"""


@pytest.mark.django_db(transaction=True)
def test_the_delivery_worker_survives_its_database_restarted_under_it(
    cast: dict[str, User],
    small_city: dict[str, Area],
    receiver: Receiver,  # noqa: F811
) -> None:
    set_up_loop()
    street = Unit.objects.get(area__code="440106001", kind="territorial")
    Webhook.objects.create(name="街道自建系统", unit=street, url=receiver.url)
    cast["street"].email = "street@example.org"
    cast["street"].save(update_fields=["email"])
    case_id = int(report(cast["inspector"], small_city).json()["case"]["id"])
    act(cast["street"], case_id, "file")
    act(cast["street"], case_id, "dispatch")

    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    with own_postgres() as cluster:
        url = cluster.copy_test_database("gridmgmt_delivery")
        env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1",
               "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port),
               # No Redis listens there: the live inbox notices cannot be sent.
               "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # fmt: skip
        log = (ROOT / "var" / "test-delivery-worker.log").open("w+")
        command = [sys.executable, "manage.py", "run_delivery_worker", "--interval", "0.2"]
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: S603
        try:
            wait_for(lambda: len(mailbox.received) == 1 and len(receiver.received) == 1, 60, 0.2)
            assert mailbox.received[0][0] == ["street@example.org"]

            cluster.stop("immediate")
            time.sleep(3)  # a few failed passes
            assert worker.poll() is None, log.seek(0) or log.read()
            cluster.start()
            db = cluster.connect("gridmgmt_delivery")
            db.execute(MESSAGE)
            wait_for(lambda: len(mailbox.received) == 2, 30, 0.2)
            assert mailbox.received[1][0] == ["later@example.org"]
            sent = 'SELECT state, attempts FROM notifications_message WHERE "to" = %s'
            wait_for(lambda: db.execute(sent, ["later@example.org"]).fetchone() == ("sent", 1), 10)
            assert worker.poll() is None
        finally:
            worker.terminate()
            worker.wait(timeout=15)
            smtp.stop()
            log.seek(0)
            output = log.read()
            log.close()
            Path(log.name).unlink(missing_ok=True)
    assert worker.returncode == 0  # stopped by SIGTERM, cleanly
    assert "delivery worker: database unavailable" in output
    assert "delivery worker: back after" in output
