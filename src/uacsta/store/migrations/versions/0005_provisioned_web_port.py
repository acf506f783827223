"""the web port a phone was provided on, for a later restart from the telephone list

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provisioned") as batch:
        batch.add_column(sa.Column("web_port", sa.Integer(), nullable=False, server_default="80"))


def downgrade() -> None:
    with op.batch_alter_table("provisioned") as batch:
        batch.drop_column("web_port")
