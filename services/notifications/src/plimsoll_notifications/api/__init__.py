"""The notifications HTTP API: the inbox, partners' webhooks, preferences, rules, sweeps."""

from fastapi import APIRouter

from plimsoll_notifications.api import inbox, settings, webhooks

ROUTERS: tuple[APIRouter, ...] = (inbox.router, webhooks.router, settings.router)
