"""The phone side: identities, the registrar, (later) the uaCSTA sessions."""
