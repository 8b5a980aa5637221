"""People and sign-in: passwords, sessions, login throttling, API tokens, principals.

Nothing here knows HTTP; :mod:`controller.api.auth` maps it onto requests.
"""

from .principal import ROLES, Principal, Role
from .service import Authenticator, LoginRefused

__all__ = ["ROLES", "Authenticator", "LoginRefused", "Principal", "Role"]
