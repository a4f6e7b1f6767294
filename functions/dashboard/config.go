package dashboard

// Config is dashboard's environment (envconfig). The dashboard holds no
// secret and opens no store: it serves files, and the browser calls the
// other functions with the user's token.
type Config struct {
	// TileURL is the base map's raster tile template ({z}/{x}/{y}); empty
	// means no base map (an offline edge node): a plain background under
	// the vector overlays.
	TileURL string `envconfig:"TILE_URL" default:"https://tile.openstreetmap.org/{z}/{x}/{y}.png"`
	// TileAttribution is shown in the map's corner, as the tiles' licence asks.
	TileAttribution string `envconfig:"TILE_ATTRIBUTION" default:"© OpenStreetMap contributors"`
	// APIURL is where the functions are, relative to the dashboard's own
	// URL or absolute: "../" when they are siblings under /function/ (the
	// OpenFaaS gateway, geotrack dev); a Knative or edge install whose
	// functions have their own hosts sets e.g. https://api.example.com/function/.
	APIURL string `envconfig:"API_URL" default:"../"`
	// OIDCIssuer, with OIDCClientID, turns on the login with an OIDC
	// provider (authorization code + PKCE, in the browser): the same
	// OIDC_ISSUER the functions verify tokens of. The browser reads its
	// discovery document and posts to its token endpoint, so both must
	// be on the issuer's origin and answer CORS for the dashboard's.
	OIDCIssuer string `envconfig:"OIDC_ISSUER"`
	// OIDCClientID is the dashboard's client at the provider: a public
	// client (no secret) whose redirect URI is the dashboard's own URL.
	// Empty: no OIDC login button (a token can still be pasted).
	OIDCClientID string `envconfig:"DASHBOARD_OIDC_CLIENT_ID"`
	// OIDCScope is the scope asked for; the token must carry tenant and
	// role claims, as every geotrack token.
	OIDCScope string `envconfig:"DASHBOARD_OIDC_SCOPE" default:"openid"`
	// Site is where the dashboard runs: "cloud" (every view) or "edge" (an
	// edge node, which has position and track but not the cloud's trips,
	// geofences, rules or preferences: the page shows the fleet and device
	// views only, and no trips).
	Site string `envconfig:"DASHBOARD_SITE" default:"cloud"`
}
