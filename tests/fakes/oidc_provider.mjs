// A real OpenID provider for the tests: the certified `oidc-provider` package (npm devDependency) on
// loopback, with static accounts read from ACCOUNTS_FILE at every login, so a test can change a user's
// groups between two logins. README "Single sign-on" says how the console is configured against it.
// Env: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, ACCOUNTS_FILE
// ({"alice": {"groups": [...], ...}}; read again at each refresh too, and an account removed from it can no
// longer refresh), REFRESH_TOKENS=off for a provider that issues none.
// Prints "issuer <url>" once listening on a free port.
import fs from "node:fs";
import http from "node:http";
import Provider from "oidc-provider";

// CLOCK_OFFSET=<seconds>: the provider's clock runs that far ahead (or behind), so its ID tokens are not yet
// valid (or already expired) for the console. TAMPER=signature: the token endpoint's ID token arrives with
// a broken signature.
const clockOffset = Number(process.env.CLOCK_OFFSET || 0) * 1000;
if (clockOffset) {
  const realNow = Date.now;
  Date.now = () => realNow() + clockOffset;
}

function breakSignature(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    const body = JSON.parse(chunk.toString());
    if (body.id_token) {
      // One character of the signature changed: the same length, so Content-Length still holds.
      const last = body.id_token.length - 5;
      const flipped = body.id_token[last] === "A" ? "B" : "A";
      body.id_token = body.id_token.slice(0, last) + flipped + body.id_token.slice(last + 1);
    }
    return end(JSON.stringify(body), ...rest);
  };
}

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: process.env.CLIENT_ID,
        client_secret: process.env.CLIENT_SECRET,
        redirect_uris: [process.env.REDIRECT_URI],
        post_logout_redirect_uris: [process.env.POST_LOGOUT_REDIRECT_URI],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
    ],
    // A refresh token at every login, as Keycloak gives one (Dex and Entra ID with offline_access);
    // REFRESH_TOKENS=off: a provider that gives none.
    issueRefreshToken: async (ctx, client) =>
      process.env.REFRESH_TOKENS !== "off" && client.grantTypeAllowed("refresh_token"),
    cookies: { keys: ["test-only-cookie-key"] },
    ...(clockOffset ? { ttl: { IdToken: 60 } } : {}),
    claims: {
      openid: ["sub"],
      email: ["email"],
      profile: ["preferred_username", "given_name", "family_name"],
      groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups"],
    conformIdTokenClaims: false, // the claims in the ID token itself, as Keycloak, Dex and Entra ID send them
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
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
    if (process.env.TAMPER === "signature" && req.url.startsWith("/token")) breakSignature(res);
    return handle(req, res);
  });
  console.log(`issuer ${issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
