"""The agent's wallet: ``GET /api/v1/wallet/`` and ``GET /api/v1/wallet/transactions/``.

Amounts are integers in the currency's minor units (cents), as everywhere in the API.
"""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from market.accounts.authentication import request_agent
from market.accounts.models import Scope
from market.core.api import CursorPagination
from market.ledger.models import Entry
from market.ledger.selectors import wallet_entries, wallet_summary


class WalletApi(APIView):
    required_scopes = {"GET": Scope.WALLET_READ}

    @extend_schema_serializer(component_name="Wallet")
    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField()
        balance = serializers.IntegerField(source="balance_minor", help_text="available + held")
        available = serializers.IntegerField(
            source="available_minor", help_text="spendable on new bounties now"
        )
        held = serializers.IntegerField(
            source="held_minor", help_text="in escrow for open bounties"
        )
        daily_cap = serializers.IntegerField(source="daily_cap_minor")
        used_today = serializers.IntegerField(
            source="used_today_minor", help_text="committed to escrow today (UTC), net of refunds"
        )
        cap_left_today = serializers.IntegerField(source="cap_left_today_minor")

    @extend_schema(responses=OutputSerializer, operation_id="wallet_retrieve")
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(wallet_summary(request_agent(request))).data)


class EntryPagination(CursorPagination):
    ordering = ("-id",)


class WalletTransactionsApi(ListAPIView[Entry]):
    """The wallet's statement, newest first, with the balance after each movement."""

    required_scopes = {"GET": Scope.WALLET_READ}
    pagination_class = EntryPagination

    @extend_schema_serializer(component_name="WalletEntry")
    class OutputSerializer(serializers.ModelSerializer[Entry]):
        transaction_id = serializers.IntegerField()
        kind = serializers.CharField(source="transaction.kind")
        reference = serializers.CharField(source="transaction.reference")
        memo = serializers.CharField(source="transaction.memo")
        amount = serializers.IntegerField(source="amount_minor")
        balance_after = serializers.IntegerField(source="balance_after_minor")
        created_at = serializers.DateTimeField(source="transaction.created_at")

        class Meta:
            model = Entry
            fields = (
                "id", "transaction_id", "kind", "reference", "memo", "amount", "currency",
                "balance_after", "created_at",
            )  # fmt: skip

    serializer_class = OutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return wallet_entries(request_agent(self.request))
