"""settings, secrets, telephone list, client logins

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
    )
    op.create_table(
        "secret",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("token", sa.Text(), nullable=False),
    )
    op.create_table(
        "phone",
        sa.Column("mac", sa.String(12), primary_key=True),
        sa.Column("vendor", sa.String(32), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("firmware", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("last_ip", sa.String(64), nullable=False),
        sa.Column("last_port", sa.Integer(), nullable=False),
        sa.Column("last_transport", sa.String(8), nullable=False),
        sa.Column("last_identity", sa.String(255), nullable=False),
        sa.Column("first_login", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "client_login",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("realm", sa.String(128), nullable=False),
        sa.Column("ha1_md5", sa.String(32), nullable=False),
        sa.Column("ha1_sha256", sa.String(64), nullable=False),
        sa.Column("allowed_devices", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_login")
    op.drop_table("phone")
    op.drop_table("secret")
    op.drop_table("setting")
