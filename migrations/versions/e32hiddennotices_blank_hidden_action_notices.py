"""notices about hidden actions quote nothing (data only)

Revision ID: e32hiddennotices
Revises: e31exportfail
Create Date: 2026-12-06 21:30:00

Before this, hiding an action replaced only its title in the notices about it: a progress
update's notice kept the update's text ("[Åtgärden dold av en moderator]: Ring ... 070-..."),
and hiding is the moderators' tool for personal data in an update. The code now keeps such
notices empty while the action is hidden (the page says it is hidden, in the reader's
language) and writes them again from the action when it is shown. This blanks the notices
of the actions hidden before it; showing one again fills its notices in as the code does.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "e32hiddennotices"
down_revision = "e31exportfail"
branch_labels = None
depends_on = None


def upgrade():
    # the kinds are forum.services.notifications.ACTION_KINDS as they were when this was
    # written; an action's notices link to /actions/<id>, or to an anchor on it
    op.execute(
        """
        UPDATE notifications SET excerpt = ''
        WHERE kind IN ('action_update', 'action_accepted', 'action_declined',
                       'action_reminder', 'action_awaiting')
          AND EXISTS (
            SELECT 1 FROM actions
            WHERE actions.hidden_at IS NOT NULL
              AND (notifications.url LIKE ('%/actions/' || actions.id)
                   OR notifications.url LIKE ('%/actions/' || actions.id || '#%'))
          )
        """
    )


def downgrade():
    # nothing to put back: the code before this quotes a hidden action's title as the
    # placeholder, and an empty notice shows nothing there; showing the action again
    # writes its notices afresh in either version
    pass
