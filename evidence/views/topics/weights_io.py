"""Views of the page "Getting your weights out, and back in" (``gallery/topics/20_weights_io``).

Every program trains the minimal loop's network, writes its weights in the files its style
writes, reads them back into a fresh network by the route its style takes, and returns one row
per round trip (``round_trips``): the route, the file, the file's top-level keys, the key of the
first tensor as stored (which shows the prefix a reader must strip), the largest difference
between the reloaded and the trained tensors, and whether both predict bitwise the same logits
on the validation rows (``identical``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, codes, difference, paragraph, table

if TYPE_CHECKING:
    from evidence.results import RunResult


def round_trips_table(result: RunResult) -> Html:
    """Every round trip of every implementation, with the file it went through.

    Args:
        result: the topic's headline run.

    Returns:
        A table with one row per round trip: implementation, route, file, its top-level keys,
        the first weight's key as stored, the largest difference and the bitwise verdict.
    """
    rows = []
    for kind in result.kinds():
        for trip in result.value(kind, "round_trips"):
            rows.append([LABELS[kind], trip["route"], Code(trip["file"]), codes(trip["top_keys"]),
                         Code(trip["first_key"]), difference(trip["difference"]),
                         "bitwise identical" if trip["identical"] else "DIFFERENT"])
    return table(["implementation", "route", "file", "top-level keys", "first weight stored as",
                  "max |difference|", "weights and predictions"], rows)


def verdict(result: RunResult) -> Html:
    """One sentence: how many round trips ran and whether every one gave back the trained network.

    Args:
        result: the topic's headline run.

    Returns:
        A paragraph whose numbers come from the run.
    """
    trips = [trip for kind in result.kinds() for trip in result.value(kind, "round_trips")]
    same = [trip for trip in trips if trip["identical"]]
    largest = max(trip["difference"] for trip in trips)
    if len(same) == len(trips):
        return paragraph(f"All {len(trips)} round trips gave back the trained network bit for bit: the largest "
                         f"difference of any tensor is {difference(largest)}, and every reloaded network predicts the "
                         "same logits as the trained one on every validation row (", Code("torch.equal"), ").")
    return paragraph(f"{len(trips) - len(same)} of {len(trips)} round trips did not give back the trained network "
                     f"(largest difference {difference(largest)}): see the table.")
