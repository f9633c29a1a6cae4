"""Administration: appoint and remove roles (the lists the admin page shows are in
`forum.queries.admin`)."""

from __future__ import annotations

from flask_babel import gettext as _

from .. import policy
from ..errors import Conflict, Invalid, NotFound
from ..events import recheck_access_after_commit
from ..extensions import db
from ..models import Department, User
from ..queries.admin import has_role
from . import audit
from .accounts import department_named, reading_changed
from .transaction import lock_person

ROLES = ("official", "moderator", "admin")
MAX_DEPARTMENT = 200


def _require_admin(actor: User | None) -> User:
    policy.require_login(actor)
    policy.require(policy.can_administer(actor), _("Only admins can do that."))
    return actor  # type: ignore[return-value]


def _target(actor: User, user_id: int) -> User:
    """The person whose roles change, locked until commit and read afresh: a second click
    on the same button, or a second admin at the same moment, waits and then decides on what
    the first stored (it was granted and logged twice), and a role is not given to an account
    closed meanwhile.

    The admin acting is locked and read afresh too, the two rows in id order (so two admins
    changing each other's roles wait for each other, not deadlock): an admin whose own role
    was taken away meanwhile changes nothing more. Two admins revoking each other at the same
    moment both succeeded, and left the installation with no admin."""
    user = db.session.get(User, user_id)
    if user is None or user.is_closed:
        raise NotFound(_("No such person."))
    policy.require(policy.can_change_roles(actor, user), _("Nobody can change their own roles."))
    for person_id in sorted({actor.id, user.id}):
        lock_person(person_id)
    db.session.refresh(actor)
    db.session.refresh(user)
    _require_admin(actor)
    if user.is_closed:
        raise NotFound(_("No such person."))
    return user


def _role(role: str | None) -> str:
    if not role:
        raise Invalid(_("Choose a role."), field="role")
    if role not in ROLES:
        raise Invalid(_("Unknown role."), field="role")
    return role


def resolve_department(department_id: int | None, new_name: str | None) -> Department:
    """An existing department by id, or one by name (created when it does not exist yet)."""
    name = " ".join((new_name or "").split())
    if name:
        if len(name) > MAX_DEPARTMENT:
            raise Invalid(_("At most %(n)d characters.", n=MAX_DEPARTMENT), field="department_name")
        return department_named(name)
    if department_id is not None:
        dept = db.session.get(Department, department_id)
        if dept is None:
            raise Invalid(_("Unknown department."), field="department")
        return dept
    raise Invalid(_("Choose a department or type the name of a new one."), field="department")


def grant_role(
    actor: User | None,
    user_id: int,
    role: str,
    department_id: int | None = None,
    department_name: str | None = None,
) -> User:
    """Appoint `user_id` official (of a department), site moderator or admin."""
    admin = _require_admin(actor)
    user = _target(admin, user_id)
    role = _role(role)
    if role == "official":
        dept = resolve_department(department_id, department_name)
        if user.department_id == dept.id:
            raise Conflict(_("That person is already an official of %(d)s.", d=dept.name))
        if user.department_id is not None:  # moved: the old department's drafts are gone
            recheck_access_after_commit(user_ids=[user.id])
        user.department = dept
        user.department_id = dept.id
        reading_changed(user)  # the department's drafts
        detail = f"official ({dept.name})"
    else:
        if has_role(user, role):
            raise Conflict(_("That person already has that role."))
        if role == "admin":
            user.is_admin = True
        else:
            user.is_moderator = True
        reading_changed(user)  # every forum, every draft
        detail = role
    audit.record(admin, "role.granted", "user", user.id, detail)
    db.session.commit()
    return user


def revoke_role(actor: User | None, user_id: int, role: str) -> User:
    """Take an appointed role away from `user_id`."""
    admin = _require_admin(actor)
    user = _target(admin, user_id)
    role = _role(role)
    if not has_role(user, role):
        raise Conflict(_("That person does not have that role."))
    detail = role
    if role == "official":
        detail = f"official ({user.department.name})" if user.department else role
        user.department = None
        user.department_id = None
    elif role == "admin":
        user.is_admin = False
    else:
        user.is_moderator = False
    reading_changed(user)
    audit.record(admin, "role.revoked", "user", user.id, detail)
    recheck_access_after_commit(user_ids=[user.id])
    db.session.commit()
    return user
