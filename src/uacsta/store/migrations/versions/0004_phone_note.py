"""a note per phone: identities not reported, an identity conflict

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phone") as batch:
        batch.add_column(sa.Column("note", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("phone") as batch:
        batch.drop_column("note")
