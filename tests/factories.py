"""factory-boy factories. Keys are created through the real service (it returns the key once)."""

import factory

from market.accounts.models import Agent, Role, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    role = Role.WORKER
    password = factory.django.Password("correct horse battery staple")


class RequesterFactory(UserFactory):
    email = factory.Sequence(lambda n: f"requester{n}@example.com")
    role = Role.REQUESTER


class OperatorFactory(UserFactory):
    email = factory.Sequence(lambda n: f"operator{n}@example.com")
    role = Role.OPERATOR
    is_staff = True
    is_superuser = True


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    owner = factory.SubFactory(RequesterFactory)
    name = factory.Sequence(lambda n: f"agent-{n}")
    daily_spend_cap_minor = 100_000
