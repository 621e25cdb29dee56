"""Database-level rules for the ledger: the books stay right even if a write bypasses the
service (see ``market/ledger/models.py``)."""

from django.db import migrations

POSTGRES = [
    # An entry moves its account's balance, states the result, and matches the currency.
    """
    CREATE FUNCTION ledger_entry_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        new_balance bigint;
        account_currency varchar(3);
    BEGIN
        UPDATE ledger_ledgeraccount SET balance_minor = balance_minor + NEW.amount_minor
         WHERE id = NEW.account_id
         RETURNING balance_minor, currency INTO new_balance, account_currency;
        IF account_currency IS DISTINCT FROM NEW.currency THEN
            RAISE EXCEPTION 'ledger: entry in % on an account in %', NEW.currency, account_currency
                USING ERRCODE = 'check_violation';
        END IF;
        IF new_balance IS DISTINCT FROM NEW.balance_after_minor THEN
            RAISE EXCEPTION 'ledger: entry states balance % but the account has %',
                NEW.balance_after_minor, new_balance USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER ledger_entry_apply AFTER INSERT ON ledger_entry
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_apply();
    """,
    # Entries and transactions are never updated or deleted: corrections are reversals.
    """
    CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
        FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
    CREATE TRIGGER ledger_transaction_append_only BEFORE UPDATE OR DELETE ON ledger_transaction
        FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
    """,
    # A balance changes only through an entry (the entry trigger runs at depth 2), and an
    # account's identity never changes.
    """
    CREATE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.kind <> OLD.kind OR NEW.currency <> OLD.currency OR NEW.owner <> OLD.owner
           OR NEW.protected <> OLD.protected THEN
            RAISE EXCEPTION 'ledger: an account''s identity cannot change'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.balance_minor <> OLD.balance_minor AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'ledger: balances change only through entries'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER ledger_account_guard BEFORE UPDATE ON ledger_ledgeraccount
        FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();
    """,
    # At commit, each transaction has entries, and they sum to zero per currency.
    """
    CREATE FUNCTION ledger_check_balanced(txn_id bigint) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM ledger_entry WHERE transaction_id = txn_id) THEN
            RAISE EXCEPTION 'ledger: transaction % has no entries', txn_id
                USING ERRCODE = 'check_violation';
        END IF;
        IF EXISTS (SELECT 1 FROM ledger_entry WHERE transaction_id = txn_id
                   GROUP BY currency HAVING SUM(amount_minor) <> 0) THEN
            RAISE EXCEPTION 'ledger: transaction % does not balance', txn_id
                USING ERRCODE = 'check_violation';
        END IF;
    END $$;
    CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM ledger_check_balanced(NEW.transaction_id);
        RETURN NULL;
    END $$;
    CREATE FUNCTION ledger_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM ledger_check_balanced(NEW.id);
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
    CREATE CONSTRAINT TRIGGER ledger_transaction_has_entries AFTER INSERT ON ledger_transaction
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced();
    """,
]

POSTGRES_REVERSE = [
    "DROP TRIGGER ledger_transaction_has_entries ON ledger_transaction;"
    "DROP TRIGGER ledger_entry_balanced ON ledger_entry;"
    "DROP FUNCTION ledger_transaction_balanced(); DROP FUNCTION ledger_entry_balanced();"
    "DROP FUNCTION ledger_check_balanced(bigint);",
    "DROP TRIGGER ledger_account_guard ON ledger_ledgeraccount;"
    "DROP FUNCTION ledger_account_guard();",
    "DROP TRIGGER ledger_transaction_append_only ON ledger_transaction;"
    "DROP TRIGGER ledger_entry_append_only ON ledger_entry;"
    "DROP FUNCTION ledger_append_only();",
    "DROP TRIGGER ledger_entry_apply ON ledger_entry; DROP FUNCTION ledger_entry_apply();",
]

# SQLite (the embedded development default) gets the same balance, currency and append-only
# rules; it has no deferred triggers, so only the service checks that a transaction balances.
SQLITE = [
    """
    CREATE TRIGGER ledger_entry_apply AFTER INSERT ON ledger_entry BEGIN
        SELECT RAISE(ABORT, 'ledger: entry currency differs from its account')
         WHERE NEW.currency <> (SELECT currency FROM ledger_ledgeraccount WHERE id = NEW.account_id);
        UPDATE ledger_ledgeraccount SET balance_minor = balance_minor + NEW.amount_minor
         WHERE id = NEW.account_id;
        SELECT RAISE(ABORT, 'ledger: entry states a wrong balance')
         WHERE NEW.balance_after_minor <>
               (SELECT balance_minor FROM ledger_ledgeraccount WHERE id = NEW.account_id);
    END;
    """,
    "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry BEGIN "
    "SELECT RAISE(ABORT, 'ledger: ledger_entry is append-only'); END;",
    "CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry BEGIN "
    "SELECT RAISE(ABORT, 'ledger: ledger_entry is append-only'); END;",
    "CREATE TRIGGER ledger_transaction_no_update BEFORE UPDATE ON ledger_transaction BEGIN "
    "SELECT RAISE(ABORT, 'ledger: ledger_transaction is append-only'); END;",
    "CREATE TRIGGER ledger_transaction_no_delete BEFORE DELETE ON ledger_transaction BEGIN "
    "SELECT RAISE(ABORT, 'ledger: ledger_transaction is append-only'); END;",
]

SQLITE_REVERSE = [
    "DROP TRIGGER ledger_entry_apply;",
    "DROP TRIGGER ledger_entry_no_update;",
    "DROP TRIGGER ledger_entry_no_delete;",
    "DROP TRIGGER ledger_transaction_no_update;",
    "DROP TRIGGER ledger_transaction_no_delete;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"the ledger supports PostgreSQL and SQLite, not {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
