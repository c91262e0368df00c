"""Events from the registry for a receiving office's code (issue 25): check a webhook in one call.

    from cadastre.events import verify
    event = verify(request.headers, request.body, "whsec_…")   # raises InvalidSignature otherwise

``verify`` checks the Standard Webhooks signature (``webhook-signature``: HMAC-SHA256 over
``webhook-id.webhook-timestamp.body`` with the subscription's secret) and that the timestamp is within 5 minutes;
``webhook-id`` is the same on every redelivery of an event, so a receiver keeps the ids it has and drops repeats.
"""

from cadastre.core.events import EVENT_TYPES, InvalidSignature, event_body, signed_headers, verify

__all__ = ["verify", "InvalidSignature", "EVENT_TYPES", "signed_headers", "event_body"]
