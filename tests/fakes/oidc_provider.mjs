// A real OpenID provider for the tests: the certified `oidc-provider` package (npm devDependency) on
// loopback, with static accounts read from ACCOUNTS_FILE at every login, so a test can change a user's
// groups between two logins. README "Single sign-on" says how the console is configured against it.
// Env: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ACCOUNTS_FILE ({"alice": {"groups": [...], ...}}).
// Prints "issuer <url>" once listening on a free port.
import fs from "node:fs";
import http from "node:http";
import Provider from "oidc-provider";

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: process.env.CLIENT_ID,
        client_secret: process.env.CLIENT_SECRET,
        redirect_uris: [process.env.REDIRECT_URI],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    cookies: { keys: ["test-only-cookie-key"] },
    claims: {
      openid: ["sub"],
      email: ["email"],
      profile: ["preferred_username", "given_name", "family_name"],
      groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups"],
    conformIdTokenClaims: false, // the claims in the ID token itself, as Keycloak, Dex and Entra ID send them
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      const accounts = JSON.parse(fs.readFileSync(process.env.ACCOUNTS_FILE, "utf8"));
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          const claims = { sub: id, preferred_username: id, email: `${id}@example.test` };
          if (account.groups !== undefined) claims.groups = account.groups;
          return claims;
        },
      };
    },
    // No consent screen: the console is a first-party application.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const found = await ctx.oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope("openid email profile groups");
      await grant.save();
      return grant;
    },
  });
  const handle = provider.callback();
  server.on("request", (req, res) => {
    // The provider's own development login page asks for a favicon it does not have.
    if (req.url === "/favicon.ico") return res.writeHead(204).end();
    return handle(req, res);
  });
  console.log(`issuer ${issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
